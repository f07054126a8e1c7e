package collect

import (
	"math"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
	"github.com/shirou/gopsutil/v4/cpu"
)

// lineWriter appends "prefix.name value ts\n" lines, refusing names that
// metricpath would refuse and values that are not finite.
type lineWriter struct {
	buf     []byte
	prefix  string
	ts      int64
	lines   int
	dropped int
}

func (w *lineWriter) add(name string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	full := w.prefix + "." + name
	if _, err := metricpath.Rel(full); err != nil {
		w.dropped++
		return
	}
	w.buf = plaintext.AppendLine(w.buf, full, v, w.ts)
	w.lines++
}

// rate adds (cur-prev)/dt, unless the counter went backwards (a reset or a
// wrap: no honest rate exists for this interval).
func (w *lineWriter) rate(name string, cur, prev uint64, dt float64) {
	if cur < prev || dt <= 0 {
		return
	}
	w.add(name, float64(cur-prev)/dt)
}

// percent returns part of whole in percent, rounded to 1e-6 so that
// float noise (67.00000000000159) does not reach the charts.
func percent(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return math.Round(part/whole*1e8) / 1e6
}

// AppendLines appends the metrics of cur to dst, with rates taken against
// prev (which may be nil: then no rates). ts is the lines' timestamp.
//
// Names, under prefix (all rates are per second over the interval):
//
//	cpu.total.{user,nice,system,idle,iowait,irq,softirq,steal,guest,guest_nice}  percent, sum 100
//	load.{load1,load5,load15}
//	memory.{total,used,free,available,buffers,cached}  bytes
//	memory.{used_percent,available_percent}
//	swap.{total,used,free}  bytes;  swap.used_percent;  swap.{in,out}  bytes/s
//	disk.<mount>.{total,used,free}  bytes (free: available to non-root users)
//	disk.<mount>.used_percent  (as df: used / (used + free))
//	disk.<mount>.{inodes_total,inodes_used,inodes_free,inodes_used_percent}
//	diskio.<device>.{reads,writes,read_bytes,write_bytes}  ops/s, bytes/s
//	diskio.<device>.{read_await,write_await}  ms per operation
//	diskio.<device>.util  percent of the interval the device was busy
//	diskio.<device>.in_progress  operations in flight
//	net.<interface>.{bytes_recv,bytes_sent,packets_recv,packets_sent}  per second
//	net.<interface>.{errors_in,errors_out,drops_in,drops_out}  per second
//	processes.{total,running,blocked};  processes.forks  per second
func AppendLines(dst []byte, prefix string, ts int64, prev, cur *Sample) (out []byte, lines, dropped int) {
	w := &lineWriter{buf: dst, prefix: prefix, ts: ts}
	if prev == nil {
		prev = &Sample{}
	}
	dt := 0.0
	if !prev.At.IsZero() {
		dt = cur.At.Sub(prev.At).Seconds()
	}
	if cur.CPU != nil && prev.CPU != nil {
		cpuLines(w, prev.CPU, cur.CPU)
	}
	if l := cur.Load; l != nil {
		w.add("load.load1", l.Load1)
		w.add("load.load5", l.Load5)
		w.add("load.load15", l.Load15)
	}
	if m := cur.Mem; m != nil {
		w.add("memory.total", float64(m.Total))
		w.add("memory.used", float64(m.Used))
		w.add("memory.free", float64(m.Free))
		w.add("memory.available", float64(m.Available))
		w.add("memory.buffers", float64(m.Buffers))
		w.add("memory.cached", float64(m.Cached))
		w.add("memory.used_percent", percent(float64(m.Used), float64(m.Total)))
		w.add("memory.available_percent", percent(float64(m.Available), float64(m.Total)))
	}
	if s := cur.Swap; s != nil {
		w.add("swap.total", float64(s.Total))
		w.add("swap.used", float64(s.Used))
		w.add("swap.free", float64(s.Free))
		w.add("swap.used_percent", percent(float64(s.Used), float64(s.Total)))
		if p := prev.Swap; p != nil {
			w.rate("swap.in", s.Sin, p.Sin, dt)
			w.rate("swap.out", s.Sout, p.Sout, dt)
		}
	}
	for _, d := range cur.Disks {
		n := "disk." + MountName(d.Mount) + "."
		w.add(n+"total", float64(d.Total))
		w.add(n+"used", float64(d.Used))
		w.add(n+"free", float64(d.Free))
		w.add(n+"used_percent", percent(float64(d.Used), float64(d.Used+d.Free)))
		if d.InodesTotal > 0 {
			w.add(n+"inodes_total", float64(d.InodesTotal))
			w.add(n+"inodes_used", float64(d.InodesUsed))
			w.add(n+"inodes_free", float64(d.InodesFree))
			w.add(n+"inodes_used_percent", percent(float64(d.InodesUsed), float64(d.InodesTotal)))
		}
	}
	for _, dev := range sortedKeys(cur.DiskIO) {
		c := cur.DiskIO[dev]
		n := "diskio." + Component(dev) + "."
		w.add(n+"in_progress", float64(c.IopsInProgress))
		p, ok := prev.DiskIO[dev]
		if !ok || dt <= 0 {
			continue
		}
		w.rate(n+"reads", c.ReadCount, p.ReadCount, dt)
		w.rate(n+"writes", c.WriteCount, p.WriteCount, dt)
		w.rate(n+"read_bytes", c.ReadBytes, p.ReadBytes, dt)
		w.rate(n+"write_bytes", c.WriteBytes, p.WriteBytes, dt)
		await(w, n+"read_await", c.ReadTime, p.ReadTime, c.ReadCount, p.ReadCount)
		await(w, n+"write_await", c.WriteTime, p.WriteTime, c.WriteCount, p.WriteCount)
		if c.IoTime >= p.IoTime {
			w.add(n+"util", math.Min(100, percent(float64(c.IoTime-p.IoTime), dt*1000)))
		}
	}
	if dt > 0 {
		for _, iface := range sortedKeys(cur.Net) {
			c := cur.Net[iface]
			p, ok := prev.Net[iface]
			if !ok {
				continue
			}
			n := "net." + Component(iface) + "."
			w.rate(n+"bytes_recv", c.BytesRecv, p.BytesRecv, dt)
			w.rate(n+"bytes_sent", c.BytesSent, p.BytesSent, dt)
			w.rate(n+"packets_recv", c.PacketsRecv, p.PacketsRecv, dt)
			w.rate(n+"packets_sent", c.PacketsSent, p.PacketsSent, dt)
			w.rate(n+"errors_in", c.Errin, p.Errin, dt)
			w.rate(n+"errors_out", c.Errout, p.Errout, dt)
			w.rate(n+"drops_in", c.Dropin, p.Dropin, dt)
			w.rate(n+"drops_out", c.Dropout, p.Dropout, dt)
		}
	}
	if pr := cur.Procs; pr != nil {
		w.add("processes.total", float64(pr.ProcsTotal))
		w.add("processes.running", float64(pr.ProcsRunning))
		w.add("processes.blocked", float64(pr.ProcsBlocked))
		if prev.Procs != nil && pr.ProcsCreated >= prev.Procs.ProcsCreated {
			w.rate("processes.forks", uint64(pr.ProcsCreated), uint64(prev.Procs.ProcsCreated), dt)
		}
	}
	return w.buf, w.lines, w.dropped
}

// await adds the mean time per operation over the interval, in ms (0 when
// there was no operation), as iostat's r_await and w_await.
func await(w *lineWriter, name string, time, prevTime, ops, prevOps uint64) {
	if time < prevTime || ops < prevOps {
		return
	}
	if ops == prevOps {
		w.add(name, 0)
		return
	}
	w.add(name, float64(time-prevTime)/float64(ops-prevOps))
}

// cpuLines adds the share of each CPU state over the interval, in percent.
// Linux counts guest time inside user (and guest_nice inside nice); those
// are taken out so that the ten states add up to 100. A state whose counter
// went backwards (iowait can, on some kernels) counts as 0.
func cpuLines(w *lineWriter, p, c *cpu.TimesStat) {
	states := []struct {
		name      string
		cur, prev float64
	}{
		{"user", c.User - c.Guest, p.User - p.Guest},
		{"nice", c.Nice - c.GuestNice, p.Nice - p.GuestNice},
		{"system", c.System, p.System},
		{"idle", c.Idle, p.Idle},
		{"iowait", c.Iowait, p.Iowait},
		{"irq", c.Irq, p.Irq},
		{"softirq", c.Softirq, p.Softirq},
		{"steal", c.Steal, p.Steal},
		{"guest", c.Guest, p.Guest},
		{"guest_nice", c.GuestNice, p.GuestNice},
	}
	deltas := make([]float64, len(states))
	total := 0.0
	for i, s := range states {
		deltas[i] = math.Max(0, s.cur-s.prev)
		total += deltas[i]
	}
	if total <= 0 {
		return // no time passed in the kernel's accounting (ticks are 10 ms)
	}
	for i, s := range states {
		w.add("cpu.total."+s.name, percent(deltas[i], total))
	}
}
