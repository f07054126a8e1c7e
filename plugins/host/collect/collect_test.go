package collect

import (
	"context"
	"math"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// parse turns a payload into name → value, checking every line's format
// and timestamp.
func parse(t *testing.T, payload []byte, ts int64) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	plaintext.Lines(payload, func(line []byte) {
		p, err := plaintext.ParseLine(line)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if p.Timestamp != ts {
			t.Errorf("line %q: timestamp %d, want %d", line, p.Timestamp, ts)
		}
		if _, dup := out[string(p.Name)]; dup {
			t.Errorf("duplicate metric %s", p.Name)
		}
		if _, err := metricpath.Rel(string(p.Name)); err != nil {
			t.Errorf("name %q: %v", p.Name, err)
		}
		out[string(p.Name)] = p.Value
	})
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// TestAppendLinesArithmetic checks percentages, rates, averages and the
// handling of counters that go backwards on two hand-made samples.
func TestAppendLinesArithmetic(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	prev := &Sample{
		At:   t0,
		CPU:  &cpu.TimesStat{User: 100, Nice: 10, System: 50, Idle: 1000, Iowait: 20, Guest: 5, Steal: 1},
		Swap: &mem.SwapMemoryStat{Sin: 4096, Sout: 0},
		DiskIO: map[string]disk.IOCountersStat{
			"sda":      {ReadCount: 100, WriteCount: 50, ReadBytes: 1 << 20, WriteBytes: 2 << 20, ReadTime: 1000, WriteTime: 500, IoTime: 3000},
			"cciss/c0": {ReadCount: 10},
		},
		Net: map[string]net.IOCountersStat{
			"eth0.100": {BytesRecv: 1000, BytesSent: 2000, PacketsRecv: 10, PacketsSent: 20, Errin: 1},
			"gone0":    {BytesRecv: 1},
		},
		Procs: &load.MiscStat{ProcsCreated: 1000},
	}
	cur := &Sample{
		At: t0.Add(10 * time.Second),
		// Deltas: user 40 (guest 10 inside), nice 0, system 20, idle 100,
		// iowait -5 (went backwards: counts 0), steal 0, guest 10 → total 160.
		CPU:   &cpu.TimesStat{User: 140, Nice: 10, System: 70, Idle: 1100, Iowait: 15, Guest: 15, Steal: 1},
		Load:  &load.AvgStat{Load1: 0.5, Load5: 0.25, Load15: 0.125},
		Mem:   &mem.VirtualMemoryStat{Total: 1000, Used: 250, Free: 500, Available: 700, Buffers: 10, Cached: 200},
		Swap:  &mem.SwapMemoryStat{Total: 0, Sin: 4096 + 40960, Sout: 0},
		Disks: []DiskUsage{{Mount: "/", UsageStat: disk.UsageStat{Total: 100, Used: 30, Free: 60, InodesTotal: 10, InodesUsed: 4, InodesFree: 6}}, {Mount: "/mnt/my.disk", UsageStat: disk.UsageStat{Total: 1, Used: 1}}},
		DiskIO: map[string]disk.IOCountersStat{
			"sda":      {ReadCount: 120, WriteCount: 50, ReadBytes: 2 << 20, WriteBytes: 2 << 20, ReadTime: 1100, WriteTime: 500, IoTime: 8000, IopsInProgress: 2},
			"cciss/c0": {ReadCount: 5}, // reset
			"new0":     {ReadCount: 7},
		},
		Net: map[string]net.IOCountersStat{
			"eth0.100": {BytesRecv: 11000, BytesSent: 2000, PacketsRecv: 30, PacketsSent: 20, Errin: 0},
		},
		Procs: &load.MiscStat{ProcsTotal: 90, ProcsRunning: 3, ProcsBlocked: 1, ProcsCreated: 1050},
	}
	payload, lines, dropped := AppendLines(nil, "hosts.h", 1700000010, prev, cur)
	m := parse(t, payload, 1700000010)
	if lines != len(m) || dropped != 0 {
		t.Errorf("lines %d (parsed %d), dropped %d", lines, len(m), dropped)
	}
	want := map[string]float64{
		"hosts.h.cpu.total.user":                30.0 / 160 * 100,
		"hosts.h.cpu.total.nice":                0,
		"hosts.h.cpu.total.system":              20.0 / 160 * 100,
		"hosts.h.cpu.total.idle":                100.0 / 160 * 100,
		"hosts.h.cpu.total.iowait":              0,
		"hosts.h.cpu.total.guest":               10.0 / 160 * 100,
		"hosts.h.cpu.total.steal":               0,
		"hosts.h.load.load1":                    0.5,
		"hosts.h.load.load15":                   0.125,
		"hosts.h.memory.used_percent":           25,
		"hosts.h.memory.available":              700,
		"hosts.h.swap.used_percent":             0,
		"hosts.h.swap.in":                       4096,
		"hosts.h.swap.out":                      0,
		"hosts.h.disk.root.total":               100,
		"hosts.h.disk.root.used_percent":        100 * 30.0 / 90,
		"hosts.h.disk.root.inodes_used_percent": 40,
		"hosts.h.disk.mnt_my_disk.used":         1,
		"hosts.h.diskio.sda.reads":              2,
		"hosts.h.diskio.sda.writes":             0,
		"hosts.h.diskio.sda.read_bytes":         (1 << 20) / 10.0,
		"hosts.h.diskio.sda.read_await":         5,
		"hosts.h.diskio.sda.write_await":        0,
		"hosts.h.diskio.sda.util":               50,
		"hosts.h.diskio.sda.in_progress":        2,
		"hosts.h.net.eth0_100.bytes_recv":       1000,
		"hosts.h.net.eth0_100.packets_recv":     2,
		"hosts.h.processes.total":               90,
		"hosts.h.processes.forks":               5,
	}
	for name, v := range want {
		got, ok := m[name]
		if !ok {
			t.Errorf("%s missing", name)
		} else if !near(got, v) {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	sum := 0.0
	for name, v := range m {
		if strings.HasPrefix(name, "hosts.h.cpu.total.") {
			sum += v
		}
	}
	if !near(sum, 100) {
		t.Errorf("CPU states sum to %v", sum)
	}
	for _, absent := range []string{
		"hosts.h.net.eth0_100.errors_in", // counter went backwards
		"hosts.h.diskio.cciss_c0.reads",  // reset
		"hosts.h.diskio.new0.reads",      // no previous value
		"hosts.h.net.gone0.bytes_recv",   // gone
	} {
		if _, ok := m[absent]; ok {
			t.Errorf("%s present", absent)
		}
	}
	if _, ok := m["hosts.h.diskio.new0.in_progress"]; !ok {
		t.Errorf("instant value of a new device missing")
	}

	// Without a previous sample: instant values only.
	payload, _, _ = AppendLines(nil, "p", 5, nil, cur)
	first := parse(t, payload, 5)
	if _, ok := first["p.cpu.total.idle"]; ok {
		t.Errorf("CPU percent without a previous sample")
	}
	if _, ok := first["p.diskio.sda.reads"]; ok {
		t.Errorf("rate without a previous sample")
	}
	if first["p.memory.total"] != 1000 || first["p.processes.running"] != 3 {
		t.Errorf("instant values missing: %v", first)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"vm": "hosts.vm", "web1.example.com": "hosts.web1_example_com", "": "hosts._", "höst:1": "hosts.h_st_1",
	} {
		if got := DefaultPrefix(in); got != want {
			t.Errorf("DefaultPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"/": "root", "/var/lib/docker": "var_lib_docker", "/mnt/a b": "mnt_a_b", "/boot/efi/": "boot_efi",
	} {
		if got := MountName(in); got != want {
			t.Errorf("MountName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	good := Config{Prefix: "hosts.a", Groups: []string{"cpu", "net"}, Interfaces: []string{"eth*"}, MountPoints: []string{"/"}}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"empty prefix":   {},
		"bad prefix":     {Prefix: "a..b"},
		"slash prefix":   {Prefix: "a/b"},
		"unknown group":  {Prefix: "a", Groups: []string{"gpu"}},
		"bad pattern":    {Prefix: "a", Interfaces: []string{"eth["}},
		"relative mount": {Prefix: "a", MountPoints: []string{"var"}},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFilters(t *testing.T) {
	c, err := New(Config{Prefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for dev, want := range map[string]bool{"sda": true, "nvme0n1": true, "loop0": false, "ram1": false, "dm-0": true} {
		if got := c.wantDevice(dev); got != want {
			t.Errorf("default wantDevice(%q) = %v", dev, got)
		}
	}
	for iface, want := range map[string]bool{"eth0": true, "lo": false, "docker0": true, "veth1a2b3c": false} {
		if got := c.wantInterface(iface); got != want {
			t.Errorf("default wantInterface(%q) = %v", iface, got)
		}
	}
	for _, tc := range []struct {
		p    disk.PartitionStat
		want bool
	}{
		{disk.PartitionStat{Mountpoint: "/", Fstype: "overlay"}, true},
		{disk.PartitionStat{Mountpoint: "/", Fstype: "ext4"}, true},
		{disk.PartitionStat{Mountpoint: "/home", Fstype: "xfs"}, true},
		{disk.PartitionStat{Mountpoint: "/var/lib/docker/overlay2/x/merged", Fstype: "overlay"}, false},
		{disk.PartitionStat{Mountpoint: "/dev/shm", Fstype: "tmpfs"}, false},
		{disk.PartitionStat{Mountpoint: "/proc", Fstype: "proc"}, false},
		{disk.PartitionStat{Mountpoint: "/sys/fs/cgroup/cpu", Fstype: "cgroup"}, false},
		{disk.PartitionStat{Mountpoint: "/etc/hosts", Fstype: "ext4", Opts: []string{"rw", "bind"}}, false},
	} {
		if got := c.wantMount(tc.p); got != tc.want {
			t.Errorf("default wantMount(%+v) = %v", tc.p, got)
		}
	}
	c2, _ := New(Config{Prefix: "p", MountPoints: []string{"/dev/shm"}, Interfaces: []string{"lo", "eth*"}, Devices: []string{"loop*"}})
	if !c2.wantMount(disk.PartitionStat{Mountpoint: "/dev/shm", Fstype: "tmpfs"}) || c2.wantMount(disk.PartitionStat{Mountpoint: "/", Fstype: "ext4"}) {
		t.Errorf("mount_points not obeyed")
	}
	if !c2.wantInterface("lo") || !c2.wantInterface("eth1") || c2.wantInterface("wlan0") {
		t.Errorf("interfaces not obeyed")
	}
	if !c2.wantDevice("loop3") || c2.wantDevice("sda") {
		t.Errorf("devices not obeyed")
	}
	c3, _ := New(Config{Prefix: "p", IgnoreFS: []string{}})
	if !c3.wantMount(disk.PartitionStat{Mountpoint: "/dev/shm", Fstype: "tmpfs"}) {
		t.Errorf("ignore_fs = [] still ignores tmpfs")
	}
}

// TestCollectThisHost reads this machine twice with the real gopsutil and
// checks that the values are plausible.
func TestCollectThisHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the plausibility ranges are checked on Linux")
	}
	c, err := New(Config{Prefix: "hosts.test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := c.Collect(ctx, time.Unix(1000, 0))
	if len(first.Errors) > 0 {
		t.Fatalf("errors: %v", first.Errors)
	}
	// Burn a little CPU so the kernel's tick-based counters move.
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = strconv.Itoa(x)
	}
	var r Result
	ready := func() bool {
		r = c.Collect(ctx, time.Unix(1010, 0))
		return strings.Contains(string(r.Payload), ".cpu.total.idle ")
	}
	for i := 0; i < 50 && !ready(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	m := parse(t, r.Payload, 1010)
	if r.Dropped != 0 || len(r.Errors) > 0 {
		t.Errorf("dropped %d, errors %v", r.Dropped, r.Errors)
	}
	sum := 0.0
	for name, v := range m {
		if strings.HasPrefix(name, "hosts.test.cpu.total.") {
			if v < 0 || v > 100 {
				t.Errorf("%s = %v", name, v)
			}
			sum += v
		}
		if v < 0 {
			t.Errorf("%s = %v is negative", name, v)
		}
	}
	if math.Abs(sum-100) > 0.01 {
		t.Errorf("CPU states sum to %v", sum)
	}
	if m["hosts.test.memory.total"] <= 0 || m["hosts.test.memory.used"] > m["hosts.test.memory.total"] {
		t.Errorf("memory used %v of %v", m["hosts.test.memory.used"], m["hosts.test.memory.total"])
	}
	if _, ok := m["hosts.test.load.load1"]; !ok {
		t.Errorf("no load")
	}
	if m["hosts.test.disk.root.total"] <= 0 {
		t.Errorf("no space for /: %v", m)
	}
	if m["hosts.test.processes.total"] < 1 {
		t.Errorf("processes.total = %v", m["hosts.test.processes.total"])
	}
	hasNet := false
	for name := range m {
		if strings.HasPrefix(name, "hosts.test.net.") && strings.HasSuffix(name, ".bytes_recv") {
			hasNet = true
		}
		if strings.HasPrefix(name, "hosts.test.net.lo.") {
			t.Errorf("loopback reported by default: %s", name)
		}
	}
	if !hasNet {
		t.Errorf("no network interface reported")
	}
}

// TestStatfsTimeout checks that a filesystem whose statfs hangs (a dead
// network mount) gives an error after the timeout, is not asked again while
// its call is pending, and is read again once the call returns.
func TestStatfsTimeout(t *testing.T) {
	c, err := New(Config{Prefix: "p", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	calls := 0
	var mu sync.Mutex
	c.statfs = func(ctx context.Context, path string) (*disk.UsageStat, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
		return &disk.UsageStat{Path: path, Total: 100, Used: 1, Free: 99}, nil
	}
	ctx := context.Background()
	if _, err := c.usage(ctx, "/mnt/nfs"); err == nil || !strings.Contains(err.Error(), "did not return within") {
		t.Fatalf("first call: %v", err)
	}
	if _, err := c.usage(ctx, "/mnt/nfs"); err == nil || !strings.Contains(err.Error(), "still has not returned") {
		t.Fatalf("second call: %v", err)
	}
	mu.Lock()
	if calls != 1 {
		t.Errorf("statfs called %d times while pending, want 1", calls)
	}
	mu.Unlock()
	close(release)
	var u *disk.UsageStat
	deadline := time.Now().Add(10 * time.Second)
	for u == nil && time.Now().Before(deadline) {
		u, _ = c.usage(ctx, "/mnt/nfs")
		time.Sleep(10 * time.Millisecond)
	}
	if u == nil || u.Total != 100 {
		t.Fatalf("after the hang ended: %+v", u)
	}
}

// TestAgainstReferenceTools compares the space of / with coreutils' df and
// the memory total with procps' free on this machine.
func TestAgainstReferenceTools(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("df and free output formats are checked on Linux")
	}
	dfOut, err := exec.Command("df", "-B1", "--output=size,used,avail,itotal,iused,iavail", "/").Output()
	freeOut, err2 := exec.Command("free", "-b").Output()
	if err != nil || err2 != nil {
		testutil.Unavailable(t, "df or free: %v %v", err, err2)
	}
	c, err := New(Config{Prefix: "p", Groups: []string{Disk, Mem}})
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, c.Collect(context.Background(), time.Unix(1, 0)).Payload, 1)

	df := strings.Fields(strings.Split(strings.TrimSpace(string(dfOut)), "\n")[1])
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", s, err)
		}
		return v
	}
	total := num(df[0])
	if m["p.disk.root.total"] != total {
		t.Errorf("disk.root.total %v, df says %v", m["p.disk.root.total"], total)
	}
	// Other processes write to the disk between the two readings.
	for name, i := range map[string]int{"used": 1, "free": 2} {
		if got, want := m["p.disk.root."+name], num(df[i]); math.Abs(got-want) > 0.02*total {
			t.Errorf("disk.root.%s %v, df says %v", name, got, want)
		}
	}
	if itotal := num(df[3]); itotal > 0 && m["p.disk.root.inodes_total"] != itotal {
		t.Errorf("disk.root.inodes_total %v, df says %v", m["p.disk.root.inodes_total"], itotal)
	}

	for _, line := range strings.Split(string(freeOut), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "Mem:" {
			if got, want := m["p.memory.total"], num(f[1]); got != want {
				t.Errorf("memory.total %v, free says %v", got, want)
			}
			return
		}
	}
	t.Errorf("no Mem: line in free's output:\n%s", freeOut)
}
