// bench/threads.go — Go's side of coil_bench's threads benches (see
// bench_threads.c for coil's and the pthread ones).
//
//	threads pingpong COUNT         COUNT round trips between two goroutines
//	                               over unbuffered channels; GOMAXPROCS=2
//	                               (the scheduler still runs both on one
//	                               thread: no wake-up crosses threads)
//	threads pingpong_locked COUNT  the same with each goroutine locked to
//	                               an OS thread of its own
//	                               (runtime.LockOSThread): every message
//	                               wakes the other thread, as in coil's
//	                               and the pthread round trips
//	threads submit SENDERS COUNT   SENDERS goroutines send COUNT values in
//	                               all into one channel of 1024 that one
//	                               goroutine drains; GOMAXPROCS=SENDERS+1
//	                               (capped at the CPUs), as coil's run has
//	                               SENDERS threads and a loop thread
//	threads offload COUNT          COUNT x (go f(x) that sends f's result
//	                               back on a channel; receive it): Go's
//	                               nearest thing to coil_to_thread;
//	                               GOMAXPROCS=2
//	threads handoff COUNT          two goroutines take turns holding a
//	                               sync.Mutex, COUNT (even, >= 2) turns in
//	                               all; GOMAXPROCS=1
//	threads queue COUNT            COUNT values through a channel of 64
//	                               from one goroutine to another; GOMAXPROCS=1
//	threads select4 COUNT          COUNT values sent round-robin into 4
//	                               channels of 16 by one goroutine, taken
//	                               by another with a 4-case select;
//	                               GOMAXPROCS=1 (coil's select_4 row)
//	threads version                the Go version it was built with
//
// GOMAXPROCS: 1 where coil runs on one thread (handoff, queue: the tasks of
// one loop), more where coil's side uses several threads.  Each
// measurement runs once after a warm-up of a tenth of it and prints one
// JSON line; coil_bench builds this once and runs it once per repetition.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func emit(fields map[string]any) {
	fields["impl"] = "go"
	fields["gomaxprocs"] = runtime.GOMAXPROCS(0)
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func pingpongRun(count int, locked bool) (time.Duration, error) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		if locked {
			runtime.LockOSThread()
		}
		for v := range ping {
			pong <- v + 1
		}
	}()
	defer close(ping)
	if locked {
		// Unlocked again on return: the warm-up run and the timed one
		// each get a thread to themselves.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	t0 := time.Now()
	for i := 0; i < count; i++ {
		ping <- i
		if <-pong != i+1 {
			return 0, errors.New("ping-pong reply lost")
		}
	}
	return time.Since(t0), nil
}

// submitRun returns the time from the senders' start to the receiver's
// last value, as coil's threadsafe_N does.
func submitRun(senders, perSender int) (time.Duration, error) {
	ch := make(chan int, 1024)
	start := make(chan struct{})
	done := make(chan time.Time)
	total := senders * perSender
	go func() {
		for i := 0; i < total; i++ {
			<-ch
		}
		done <- time.Now()
	}()
	for s := 0; s < senders; s++ {
		go func() {
			<-start
			for i := 0; i < perSender; i++ {
				ch <- i
			}
		}()
	}
	t0 := time.Now()
	close(start)
	return (<-done).Sub(t0), nil
}

func plusOne(x int) int { return x + 1 }

func offloadRun(count int) (time.Duration, error) {
	ch := make(chan int)
	t0 := time.Now()
	for i := 0; i < count; i++ {
		go func(x int) { ch <- plusOne(x) }(i)
		if <-ch != i+1 {
			return 0, errors.New("offloaded result lost")
		}
	}
	return time.Since(t0), nil
}

// handoffRun: a sync.Mutex is not FIFO (a goroutine that unlocks and locks
// again usually gets it back), so strict alternation needs a sync.Cond and
// a turn variable, as the pthread version does: Wait gives the mutex up,
// and the other goroutine takes it.
func handoffRun(count int) (time.Duration, error) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	turn := 0
	per := count / 2
	var wg sync.WaitGroup
	worker := func(id int) {
		defer wg.Done()
		mu.Lock()
		for i := 0; i < per; i++ {
			for turn != id {
				cond.Wait()
			}
			turn = 1 - id
			cond.Signal()
		}
		mu.Unlock()
	}
	wg.Add(2)
	t0 := time.Now()
	go worker(0)
	go worker(1)
	wg.Wait()
	return time.Since(t0), nil
}

func queueRun(count int) (time.Duration, error) {
	ch := make(chan int, 64)
	done := make(chan bool)
	go func() {
		ok := true
		for i := 1; i <= count; i++ {
			if <-ch != i {
				ok = false
			}
		}
		done <- ok
	}()
	t0 := time.Now()
	for i := 1; i <= count; i++ {
		ch <- i
	}
	ok := <-done
	d := time.Since(t0)
	if !ok {
		return 0, errors.New("queue items out of order")
	}
	return d, nil
}

// select4Run mirrors coil's select_4: the same 64 slots as queue, split
// over 4 channels, so the difference from queueRun is the select.
func select4Run(count int) (time.Duration, error) {
	var chs [4]chan int
	for i := range chs {
		chs[i] = make(chan int, 16)
	}
	done := make(chan bool)
	go func() {
		ok := true
		for i := 1; i <= count; i++ {
			var v int
			select {
			case v = <-chs[0]:
			case v = <-chs[1]:
			case v = <-chs[2]:
			case v = <-chs[3]:
			}
			if v < 1 || v > count {
				ok = false
			}
		}
		done <- ok
	}()
	t0 := time.Now()
	for i := 1; i <= count; i++ {
		chs[i%4] <- i
	}
	ok := <-done
	d := time.Since(t0)
	if !ok {
		return 0, errors.New("select4: a value that was never sent")
	}
	return d, nil
}

func tenth(n int) int {
	if n/10 < 1 {
		return 1
	}
	return n / 10
}

// measure warms up on a tenth of count, then prints the timed run.
func measure(bench string, count int, run func(int) (time.Duration, error)) error {
	if _, err := run(tenth(count)); err != nil {
		return err
	}
	d, err := run(count)
	if err != nil {
		return err
	}
	emit(map[string]any{"bench": bench, "count": count,
		"elapsed_ns": d.Nanoseconds()})
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: threads [pingpong COUNT | pingpong_locked COUNT | "+
		"submit SENDERS COUNT | offload COUNT | handoff COUNT | queue COUNT | "+
		"select4 COUNT | version]")
	os.Exit(2)
}

func procs(n int) {
	if n > runtime.NumCPU() {
		n = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(n)
}

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "version" {
		emit(map[string]any{"version": runtime.Version()})
		return
	}
	if len(args) < 2 {
		usage()
	}
	counts := make([]int, len(args)-1)
	for i, a := range args[1:] {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			usage()
		}
		counts[i] = n
	}
	var err error
	switch {
	case (args[0] == "pingpong" || args[0] == "pingpong_locked") &&
		len(counts) == 1:
		locked := args[0] == "pingpong_locked"
		procs(2)
		err = measure("threadsafe_rtt", counts[0],
			func(n int) (time.Duration, error) { return pingpongRun(n, locked) })
	case args[0] == "submit" && len(counts) == 2:
		senders := counts[0]
		per := counts[1] / senders
		if per < 1 {
			per = 1
		}
		procs(senders + 1)
		err = measure(fmt.Sprintf("threadsafe_%d", senders), senders*per,
			func(n int) (time.Duration, error) {
				p := n / senders
				if p < 1 {
					p = 1
				}
				return submitRun(senders, p)
			})
	case args[0] == "offload" && len(counts) == 1:
		procs(2)
		err = measure("to_thread", counts[0], offloadRun)
	case args[0] == "handoff" && len(counts) == 1 && counts[0] >= 2:
		procs(1)
		err = measure("lock_handoff", counts[0]/2*2, handoffRun)
	case args[0] == "queue" && len(counts) == 1:
		procs(1)
		err = measure("queue_64", counts[0], queueRun)
	case args[0] == "select4" && len(counts) == 1:
		procs(1)
		err = measure("select_4", counts[0], select4Run)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "threads:", err)
		os.Exit(1)
	}
}
