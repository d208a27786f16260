// bench/echo.go - Go's side of coil_bench's TCP echo bench: the standard
// net package, one goroutine per connection, plain blocking-style code
// (the netpoller parks goroutines on EAGAIN behind the scenes).
//
//	echo   listen on 127.0.0.1 (a free port), print the port, echo forever
//
// coil_bench starts it with its affinity set to the server's CPU and kills
// it when done (or this exits when coil_bench dies: see main).  GOMAXPROCS=1: coil serves every connection from one
// thread, so Go gets one thread to run goroutines on as well.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	// stdin is a pipe from coil_bench: EOF means it is gone, so go too.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo.go:", err)
		os.Exit(1)
	}
	// The port on a line of its own says "ready" to coil_bench.
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue // EMFILE and kin: the bench never gets there
		}
		go serve(c)
	}
}
