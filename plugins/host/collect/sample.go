package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// Sample is one reading of the host. A group not collected (or that failed)
// is nil.
type Sample struct {
	At     time.Time // when it was read (with the monotonic clock reading)
	CPU    *cpu.TimesStat
	Load   *load.AvgStat
	Mem    *mem.VirtualMemoryStat
	Swap   *mem.SwapMemoryStat
	Disks  []DiskUsage
	DiskIO map[string]disk.IOCountersStat
	Net    map[string]net.IOCountersStat
	Procs  *load.MiscStat
}

// DiskUsage is the space of one mounted filesystem.
type DiskUsage struct {
	Mount string
	disk.UsageStat
}

// Collector reads samples and remembers the previous one for rates.
type Collector struct {
	cfg    Config
	groups map[string]bool
	prev   *Sample

	mu      sync.Mutex
	pending map[string]bool // mount points whose statfs has not returned yet
	// statfs reads one filesystem's space (disk.UsageWithContext).
	statfs func(ctx context.Context, path string) (*disk.UsageStat, error)
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Groups == nil {
		cfg.Groups = AllGroups
	}
	if cfg.IgnoreFS == nil {
		cfg.IgnoreFS = DefaultIgnoreFS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	c := &Collector{cfg: cfg, groups: map[string]bool{}, pending: map[string]bool{}, statfs: disk.UsageWithContext}
	for _, g := range cfg.Groups {
		c.groups[g] = true
	}
	return c, nil
}

// Result is what one collection produced.
type Result struct {
	// Payload holds carbon plaintext lines, one per metric.
	Payload []byte
	Lines   int
	// Dropped counts metrics whose name metricpath refused (should be none).
	Dropped int
	// Errors are the groups (or filesystems) that could not be read; the
	// others are in Payload.
	Errors []error
}

// Collect reads the host and returns its metrics stamped with ts. Rates
// (CPU percentages, disk I/O, network, swap and fork rates) need a previous
// collection, so the first call returns only the instant values.
func (c *Collector) Collect(ctx context.Context, ts time.Time) Result {
	s, errs := c.Read(ctx)
	var r Result
	r.Payload, r.Lines, r.Dropped = AppendLines(nil, c.cfg.Prefix, ts.Unix(), c.prev, s)
	r.Errors = errs
	c.prev = s
	return r
}

// Read takes one sample of the configured groups.
func (c *Collector) Read(ctx context.Context) (*Sample, []error) {
	s := &Sample{At: time.Now()}
	var errs []error
	fail := func(group string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", group, err))
	}
	if c.groups[CPU] {
		if t, err := cpu.TimesWithContext(ctx, false); err != nil {
			fail(CPU, err)
		} else if len(t) == 0 {
			fail(CPU, errors.New("no CPU times"))
		} else {
			s.CPU = &t[0]
		}
	}
	if c.groups[Load] {
		if l, err := load.AvgWithContext(ctx); err != nil {
			fail(Load, err)
		} else {
			s.Load = l
		}
	}
	if c.groups[Mem] {
		if m, err := mem.VirtualMemoryWithContext(ctx); err != nil {
			fail(Mem, err)
		} else {
			s.Mem = m
		}
	}
	if c.groups[Swap] {
		if m, err := mem.SwapMemoryWithContext(ctx); err != nil {
			fail(Swap, err)
		} else {
			s.Swap = m
		}
	}
	if c.groups[Disk] {
		var derrs []error
		s.Disks, derrs = c.readDisks(ctx)
		for _, err := range derrs {
			fail(Disk, err)
		}
	}
	if c.groups[DiskIO] {
		if io, err := disk.IOCountersWithContext(ctx); err != nil {
			fail(DiskIO, err)
		} else {
			s.DiskIO = map[string]disk.IOCountersStat{}
			for name, st := range io {
				if c.wantDevice(name) {
					s.DiskIO[name] = st
				}
			}
		}
	}
	if c.groups[Net] {
		if io, err := net.IOCountersWithContext(ctx, true); err != nil {
			fail(Net, err)
		} else {
			s.Net = map[string]net.IOCountersStat{}
			for _, st := range io {
				if c.wantInterface(st.Name) {
					s.Net[st.Name] = st
				}
			}
		}
	}
	if c.groups[Processes] {
		if m, err := load.MiscWithContext(ctx); err != nil {
			fail(Processes, err)
		} else {
			s.Procs = m
		}
	}
	return s, errs
}

func (c *Collector) wantDevice(name string) bool {
	if len(c.cfg.Devices) > 0 {
		return matchAny(c.cfg.Devices, name)
	}
	return !matchAny(DefaultIgnoreDevices, name)
}

func (c *Collector) wantInterface(name string) bool {
	if len(c.cfg.Interfaces) > 0 {
		return matchAny(c.cfg.Interfaces, name)
	}
	return !matchAny(DefaultIgnoreInterfaces, name)
}

// wantMount decides whether a mounted filesystem is reported.
func (c *Collector) wantMount(p disk.PartitionStat) bool {
	if pseudoFS[p.Fstype] {
		return false
	}
	if len(c.cfg.MountPoints) > 0 {
		return contains(c.cfg.MountPoints, p.Mountpoint)
	}
	if contains(p.Opts, "bind") {
		return false // the same filesystem is reported where it is mounted
	}
	return p.Mountpoint == "/" || !contains(c.cfg.IgnoreFS, p.Fstype)
}

// readDisks lists the mounted filesystems and reads the space of those
// wanted. Each statfs runs with a timeout; a filesystem that does not
// answer is reported and not asked again until its call has returned.
func (c *Collector) readDisks(ctx context.Context) ([]DiskUsage, []error) {
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil && len(parts) == 0 {
		return nil, []error{err}
	}
	var errs []error
	seen := map[string]bool{}
	var out []DiskUsage
	for _, p := range parts {
		if seen[p.Mountpoint] || !c.wantMount(p) {
			continue
		}
		seen[p.Mountpoint] = true
		if fi, err := os.Stat(p.Mountpoint); err != nil || !fi.IsDir() {
			continue // a file bind-mounted into a container, or gone
		}
		u, err := c.usage(ctx, p.Mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Mountpoint, err))
			continue
		}
		if u.Total == 0 {
			continue
		}
		u.Fstype = p.Fstype
		out = append(out, DiskUsage{Mount: p.Mountpoint, UsageStat: *u})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mount < out[j].Mount })
	return out, errs
}

// usage runs statfs on mount, giving up after the timeout.
func (c *Collector) usage(ctx context.Context, mount string) (*disk.UsageStat, error) {
	c.mu.Lock()
	if c.pending[mount] {
		c.mu.Unlock()
		return nil, errors.New("statfs still has not returned from an earlier collection")
	}
	c.pending[mount] = true
	c.mu.Unlock()
	type answer struct {
		u   *disk.UsageStat
		err error
	}
	done := make(chan answer, 1)
	go func() {
		u, err := c.statfs(context.Background(), mount)
		c.mu.Lock()
		delete(c.pending, mount)
		c.mu.Unlock()
		done <- answer{u, err}
	}()
	timer := time.NewTimer(c.cfg.Timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		return a.u, a.err
	case <-timer.C:
		return nil, fmt.Errorf("statfs did not return within %s", c.cfg.Timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
