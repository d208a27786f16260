// bench/sched.go — Go's side of coil_bench's scheduler benches.
//
//	sched yield TASKS COUNT   TASKS goroutines share COUNT runtime.Gosched()s
//	sched spawn COUNT         COUNT x (go f(); wg.Wait())
//	sched fanout WIDTH COUNT  COUNT goroutines, WIDTH started, then waited for
//	sched sleep COUNT         COUNT x time.Sleep(time.Millisecond), overshoots
//	sched version             the Go version it was built with
//	sched                     all of them once, at coil_bench's default counts
//
// Always with GOMAXPROCS=1: coil runs its tasks on one thread, and with
// more Ps a yield or a spawn could be served by another CPU, which would
// measure parallelism rather than the scheduler.  Each measurement runs
// once after a warm-up of a tenth of it and prints one JSON line;
// coil_bench builds this once and runs it once per repetition.  The
// measurements mirror bench_sched.c (coil) and sched.py (asyncio).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func emit(fields map[string]any) {
	fields["impl"] = "go"
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

// yieldRun returns the time from the first goroutine past its first
// Gosched (by then, near enough, all have started: goroutine creation is
// left out) to the last one done with its last.  Each goroutine notes its
// own start and end; no shared variable, so the async preemption Go has
// even with one P cannot garble them.
func yieldRun(ntasks, perTask int) time.Duration {
	starts := make([]time.Time, ntasks)
	ends := make([]time.Time, ntasks)
	var wg sync.WaitGroup
	wg.Add(ntasks)
	for i := 0; i < ntasks; i++ {
		go func(i int) {
			defer wg.Done()
			runtime.Gosched()
			starts[i] = time.Now()
			for j := 0; j < perTask; j++ {
				runtime.Gosched()
			}
			ends[i] = time.Now()
		}(i)
	}
	wg.Wait()
	t0, t1 := starts[0], ends[0]
	for i := 1; i < ntasks; i++ {
		if starts[i].Before(t0) {
			t0 = starts[i]
		}
		if ends[i].After(t1) {
			t1 = ends[i]
		}
	}
	return t1.Sub(t0)
}

func spawnRun(count int) (time.Duration, error) {
	var wg sync.WaitGroup
	var got int
	t0 := time.Now()
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(x int) {
			got = x // wg.Wait() orders this before the read below
			wg.Done()
		}(i)
		wg.Wait()
		if got != i {
			return 0, errors.New("goroutine result lost")
		}
	}
	return time.Since(t0), nil
}

// fanoutRun: rounds of width goroutines started, then all waited for.
func fanoutRun(width, rounds int) (time.Duration, error) {
	got := make([]int, width)
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(width)
		for i := 0; i < width; i++ {
			go func(x int) {
				got[x] = x + r // wg.Wait() orders this before the reads below
				wg.Done()
			}(i)
		}
		wg.Wait()
		for i := range got {
			if got[i] != i+r {
				return 0, errors.New("goroutine result lost")
			}
		}
	}
	return time.Since(t0), nil
}

func sleepRun(count int) []int64 {
	over := make([]int64, count)
	for i := range over {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		over[i] = int64(time.Since(t0) - time.Millisecond)
	}
	return over
}

// percentile: nearest rank, as in coil_bench.c and sched.py.
func percentile(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func tenth(n int) int {
	if n/10 < 1 {
		return 1
	}
	return n / 10
}

func benchYield(ntasks, count int) {
	perTask := count / ntasks
	if perTask < 1 {
		perTask = 1
	}
	yieldRun(ntasks, tenth(perTask))
	ns := yieldRun(ntasks, perTask).Nanoseconds()
	emit(map[string]any{"bench": fmt.Sprintf("yield_%d", ntasks),
		"count": ntasks * perTask, "elapsed_ns": ns})
}

func benchSpawn(count int) error {
	if _, err := spawnRun(tenth(count)); err != nil {
		return err
	}
	d, err := spawnRun(count)
	if err != nil {
		return err
	}
	emit(map[string]any{"bench": "spawn_await", "count": count,
		"elapsed_ns": d.Nanoseconds()})
	return nil
}

func benchFanout(width, count int) error {
	rounds := count / width
	if rounds < 1 {
		rounds = 1
	}
	if _, err := fanoutRun(width, tenth(rounds)); err != nil {
		return err
	}
	d, err := fanoutRun(width, rounds)
	if err != nil {
		return err
	}
	emit(map[string]any{"bench": fmt.Sprintf("spawn_fanout_%d", width),
		"count": rounds * width, "elapsed_ns": d.Nanoseconds()})
	return nil
}

// benchSleep prints every overshoot, for coil_bench to pool with other
// runs' (and to take percentiles of the same way for every runtime), and
// its own percentiles, for people.
func benchSleep(count int) {
	sleepRun(tenth(count))
	over := sleepRun(count)
	sorted := append([]int64(nil), over...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	emit(map[string]any{"bench": "sleep_1ms", "count": count,
		"overshoot_ns":     over,
		"min_overshoot_ns": sorted[0],
		"p50_overshoot_ns": percentile(sorted, 50),
		"p99_overshoot_ns": percentile(sorted, 99)})
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sched [yield TASKS COUNT | spawn COUNT | fanout WIDTH COUNT | sleep COUNT | version]")
	os.Exit(2)
}

func main() {
	runtime.GOMAXPROCS(1)
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "version" {
		emit(map[string]any{"version": runtime.Version()})
		return
	}
	if len(args) == 0 {
		benchYield(2, 2000000)
		benchYield(1000, 2000000)
		if err := benchSpawn(200000); err != nil {
			fmt.Fprintln(os.Stderr, "sched:", err)
			os.Exit(1)
		}
		if err := benchFanout(1000, 200000); err != nil {
			fmt.Fprintln(os.Stderr, "sched:", err)
			os.Exit(1)
		}
		benchSleep(500)
		return
	}
	counts := make([]int, len(args)-1)
	for i, a := range args[1:] {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			usage()
		}
		counts[i] = n
	}
	switch {
	case args[0] == "yield" && len(counts) == 2:
		benchYield(counts[0], counts[1])
	case args[0] == "spawn" && len(counts) == 1:
		if err := benchSpawn(counts[0]); err != nil {
			fmt.Fprintln(os.Stderr, "sched:", err)
			os.Exit(1)
		}
	case args[0] == "fanout" && len(counts) == 2:
		if err := benchFanout(counts[0], counts[1]); err != nil {
			fmt.Fprintln(os.Stderr, "sched:", err)
			os.Exit(1)
		}
	case args[0] == "sleep" && len(counts) == 1:
		benchSleep(counts[0])
	default:
		usage()
	}
}
