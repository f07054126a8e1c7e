// Package collect reads the host's metrics with gopsutil and turns them into
// carbon plaintext lines ("name value timestamp\n") under a prefix: CPU per
// state in percent, load averages, memory and swap, per-filesystem space and
// inodes, per-device disk I/O, per-interface network traffic and the process
// count. Rates are computed from the difference between two collections. It
// is the core of the DreamcatcherHostInput Heka plugin and imports nothing
// of Heka.
package collect

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// Groups of metrics, as named in the "collect" option.
const (
	CPU       = "cpu"
	Load      = "load"
	Mem       = "mem"
	Swap      = "swap"
	Disk      = "disk"
	DiskIO    = "diskio"
	Net       = "net"
	Processes = "processes"
)

// AllGroups lists every group, in the order they are collected.
var AllGroups = []string{CPU, Load, Mem, Swap, Disk, DiskIO, Net, Processes}

// DefaultIgnoreFS are filesystem types left out of the disk group unless a
// mount point is asked for by name (or is "/"): memory-backed or read-only
// image filesystems and container layers, whose space says nothing about
// the host's disks.
var DefaultIgnoreFS = []string{"tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs", "ramfs"}

// pseudoFS are kernel filesystems with no storage at all: always skipped.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devpts": true, "cgroup": true, "cgroup2": true, "mqueue": true,
	"debugfs": true, "tracefs": true, "securityfs": true, "pstore": true, "bpf": true, "configfs": true,
	"fusectl": true, "hugetlbfs": true, "autofs": true, "binfmt_misc": true, "rpc_pipefs": true,
	"nsfs": true, "efivarfs": true, "selinuxfs": true, "nfsd": true, "sockfs": true, "pipefs": true,
	"rootfs": true, "none": true,
}

// DefaultIgnoreDevices are block devices left out of the diskio group when
// no "devices" list is given: loop and RAM disks.
var DefaultIgnoreDevices = []string{"loop*", "ram*"}

// DefaultIgnoreInterfaces are network interfaces left out when no
// "interfaces" list is given: loopback, and the veth pairs container
// runtimes create and destroy with every container (each would leave its
// own set of whisper files behind).
var DefaultIgnoreInterfaces = []string{"lo", "veth*"}

// Config selects what to collect and how to name it.
type Config struct {
	// Prefix is put before every name, e.g. "hosts.web1". Required.
	Prefix string
	// Groups to collect (default AllGroups).
	Groups []string
	// MountPoints, when set, are the only mount points of the disk group
	// (exact paths; these are reported whatever their filesystem type).
	MountPoints []string
	// IgnoreFS are filesystem types to skip (nil: DefaultIgnoreFS). "/" is
	// reported whatever its type, so a container's overlay root counts.
	IgnoreFS []string
	// Interfaces, when set, are the only network interfaces reported (names
	// or shell patterns such as "eth*"); by default every one but
	// DefaultIgnoreInterfaces.
	Interfaces []string
	// Devices, when set, are the only block devices reported (names or
	// patterns such as "sd*"); by default every one but loop and RAM disks.
	Devices []string
	// Timeout bounds each filesystem's statfs call (default 5s): a hung
	// network mount must not stop the other metrics.
	Timeout time.Duration
}

// Check validates the configuration.
func (c Config) Check() error {
	if c.Prefix == "" {
		return fmt.Errorf("prefix is empty")
	}
	for _, part := range strings.Split(c.Prefix, ".") {
		if part == "" || Component(part) != part {
			return fmt.Errorf("prefix %q: each dot-separated part must be non-empty and use only letters, digits, '_' and '-'", c.Prefix)
		}
	}
	if _, err := metricpath.Rel(c.Prefix + ".x"); err != nil {
		return fmt.Errorf("prefix %q: %w", c.Prefix, err)
	}
	for _, g := range c.Groups {
		if !contains(AllGroups, g) {
			return fmt.Errorf("collect: unknown group %q (known: %s)", g, strings.Join(AllGroups, ", "))
		}
	}
	for _, list := range [][]string{c.Interfaces, c.Devices} {
		for _, p := range list {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("bad name pattern %q: %w", p, err)
			}
		}
	}
	for _, m := range c.MountPoints {
		if !strings.HasPrefix(m, "/") {
			return fmt.Errorf("mount_points: %q is not an absolute path", m)
		}
	}
	return nil
}

// DefaultPrefix is "hosts.<hostname>" with the hostname's dots (and any
// other character unsafe in a metric path) replaced by '_'.
func DefaultPrefix(hostname string) string {
	return "hosts." + Component(hostname)
}

// Component maps s to one metric path component: ASCII letters, digits, '_'
// and '-' are kept, every other byte (dots included) becomes '_'; never
// empty, at most 200 bytes.
func Component(s string) string { return metricpath.SafeComponent(s, 200) }

// MountName names a mount point: "/" is "root", "/var/lib" is "var_lib".
func MountName(mount string) string {
	m := strings.Trim(mount, "/")
	if m == "" {
		return "root"
	}
	return Component(m)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matchAny reports whether name matches one of the shell patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
