package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on
// every Linux architecture Go supports (the kernel fixes it for userspace,
// whatever its internal HZ), which is what sysconf(_SC_CLK_TCK) returns.
const clockTicks = 100

// ProcCPU is the CPU time a process has used, from /proc/<pid>/stat.
type ProcCPU struct {
	User   float64 // seconds in user mode (utime)
	System float64 // seconds in kernel mode (stime)
}

// Seconds is user plus system time.
func (c ProcCPU) Seconds() float64 { return c.User + c.System }

// ReadProcCPU reads the CPU time of process pid so far.
func ReadProcCPU(pid int) (ProcCPU, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcCPU{}, fmt.Errorf("cpu time of process %d: %w", pid, err)
	}
	cpu, err := ParseProcStat(string(data))
	if err != nil {
		return ProcCPU{}, fmt.Errorf("cpu time of process %d: %w", pid, err)
	}
	return cpu, nil
}

// ParseProcStat reads utime and stime (fields 14 and 15) from the contents of
// a /proc/<pid>/stat file. The command name (field 2) is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last ')'.
func ParseProcStat(stat string) (ProcCPU, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 || !strings.Contains(stat[:end], "(") {
		return ProcCPU{}, fmt.Errorf("/proc stat %.40q: no command name in parentheses", stat)
	}
	// After ") " come field 3 (state), 4 (ppid), ... so field n is at n-3.
	fields := strings.Fields(stat[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return ProcCPU{}, fmt.Errorf("/proc stat has %d fields after the command name, want at least %d", len(fields), stime+1)
	}
	u, err := strconv.ParseUint(fields[utime], 10, 64)
	if err != nil {
		return ProcCPU{}, fmt.Errorf("/proc stat utime %q: %w", fields[utime], err)
	}
	s, err := strconv.ParseUint(fields[stime], 10, 64)
	if err != nil {
		return ProcCPU{}, fmt.Errorf("/proc stat stime %q: %w", fields[stime], err)
	}
	return ProcCPU{User: float64(u) / clockTicks, System: float64(s) / clockTicks}, nil
}
