package bench

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		user, sys  float64
	}{
		{
			"plain",
			"4321 (orderflow) S 1 4321 4321 0 -1 4194560 21000 0 0 0 1234 567 0 0 20 0 12 0 98765 1800000000 9000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			12.34, 5.67,
		},
		{
			"command with spaces and parentheses",
			"77 (my (odd) worker 2) R 1 77 77 0 -1 4194560 5 0 0 0 250 50 3 4 20 0 1 0 100 0 0 0\n",
			2.5, 0.5,
		},
		{"zero", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcStat(tc.stat)
			if err != nil {
				t.Fatal(err)
			}
			if got.User != tc.user || got.System != tc.sys {
				t.Errorf("got user %v system %v, want %v %v", got.User, got.System, tc.user, tc.sys)
			}
			if got.Seconds() != tc.user+tc.sys {
				t.Errorf("Seconds() = %v, want %v", got.Seconds(), tc.user+tc.sys)
			}
		})
	}
}

func TestParseProcStatRejects(t *testing.T) {
	for name, stat := range map[string]string{
		"empty":             "",
		"no command":        "12 S 1 2 3",
		"too few fields":    "12 (x) S 1 2 3 4 5 6 7 8 9 10",
		"utime not numeric": "1 (x) S 0 1 1 0 -1 0 0 0 0 0 abc 0 0 0 20",
		"stime negative":    "1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 -2 0 0 20",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseProcStat(stat); err == nil {
				t.Errorf("ParseProcStat(%q) = %+v, want an error", stat, got)
			}
		})
	}
}

// The bench's own process has a readable stat file on Linux.
func TestReadProcCPUSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	// Burn a little CPU so the count is likely non-zero.
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	_ = x
	cpu, err := ReadProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu.Seconds() < 0 {
		t.Errorf("negative CPU time %+v", cpu)
	}
	if _, err := ReadProcCPU(-1); err == nil {
		t.Error("ReadProcCPU(-1) succeeded")
	}
}
