// A cpu step: burn this thread's CPU time until its CPU clock has advanced by
// the step's duration, so a goroutine preempted mid-step still owes the rest.
package main

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// CLOCK_THREAD_CPUTIME_ID: the calling thread's CPU time, in ns. (getrusage's
// RUSAGE_THREAD reports whole microseconds; this clock is finer.)
const clockThreadCPUTime = 3

func threadCPUTime() int64 {
	var ts syscall.Timespec
	// Raw: the call never blocks, so the scheduler need not hear of it.
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// sink keeps the burn's arithmetic alive: a result nobody reads could be
// compiled away.
var sink uint64

// burn spends ns of CPU time on the calling goroutine's OS thread and returns
// the thread CPU time it took. The goroutine is locked to its thread for the
// step, so the clock it reads is the one its work advances.
func burn(ns int64) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPUTime()
	x := uint64(start)
	for {
		// A dependent multiply-xorshift chain of about a microsecond between
		// clock reads. Reading the thread's clock is a system call (a
		// microsecond or more): the chain keeps the step mostly work in user
		// space, as overlap's C burner is, and the step still ends within a
		// microsecond or two of its due.
		for i := uint64(0); i < 512; i++ {
			x = x*0x9e3779b97f4a7c15 + i
			x ^= x >> 29
		}
		if took := threadCPUTime() - start; took >= ns {
			atomic.AddUint64(&sink, x)
			return took
		}
	}
}
