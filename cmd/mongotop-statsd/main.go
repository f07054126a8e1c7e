// Command mongotop-statsd reads mongotop's output on stdin (text or --json)
// and sends each namespace's total, read and write times as statsd gauges
// over UDP:
//
//	mongotop 10 | mongotop-statsd -statsd 127.0.0.1:8125 -prefix mongotop
//
// See collectors/mongotop for the parsing and naming rules.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/collectors/mongotop"
)

const name = "mongotop-statsd"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mongotop [--json] [--locks] [SECONDS] | %s [flags]\n\n"+
			"Sends <prefix>.<namespace>.total|read|write (milliseconds) as statsd gauges.\n\nflags:\n", name)
		fs.PrintDefaults()
	}
	statsd := fs.String("statsd", "127.0.0.1:8125", "statsd address `host:port` (UDP)")
	host := fs.String("host", "", "statsd host (overrides the host part of -statsd)")
	port := fs.Int("port", 0, "statsd port (overrides the port part of -statsd)")
	prefix := fs.String("prefix", "mongotop", "put before every gauge name; \"\" for none")
	stripDB := fs.String("strip-db", "", "remove this database `name` from the front of its namespaces (app.users → users)")
	sanitize := fs.String("sanitize", string(mongotop.Underscore),
		"what dots inside a namespace become: underscore (app.fs.chunks → app.fs_chunks: the database is one level, "+
			"dots in the collection become '_'), levels (every dot a path level: app.fs.chunks) or flat (app_fs_chunks)")
	packet := fs.Int("packet-size", mongotop.DefaultPacketSize, "largest datagram in `bytes` (several gauges per datagram)")
	printOnly := fs.Bool("print", false, "print the gauges on stdout instead of sending them")
	verbose := fs.Bool("v", false, "print a summary on stderr at the end")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q (the input is read from stdin)", fs.Arg(0))
	}
	mode, err := mongotop.ParseSanitize(*sanitize)
	if err != nil {
		return usageError(fs, "-sanitize: %v", err)
	}
	if err := mongotop.CheckPrefix(*prefix); err != nil {
		return usageError(fs, "-prefix: %v", err)
	}
	if strings.Contains(*stripDB, ".") {
		return usageError(fs, "-strip-db %q: a database name holds no dot", *stripDB)
	}
	if *packet < 64 || *packet > 65000 {
		return usageError(fs, "-packet-size must be between 64 and 65000")
	}
	addr, err := statsdAddr(*statsd, *host, *port)
	if err != nil {
		return usageError(fs, "%v", err)
	}

	opts := mongotop.Options{
		Namer:      mongotop.Namer{Prefix: *prefix, StripDB: *stripDB, Mode: mode},
		PacketSize: *packet,
		Report:     os.Stderr,
		Tag:        name,
	}
	if *printOnly {
		opts.Send = func(d []byte) error {
			_, err := fmt.Fprintf(os.Stdout, "%s\n", d)
			return err
		}
	} else {
		sender, err := mongotop.DialUDP(addr, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		}
		defer sender.Close()
		opts.Send = sender.Send
	}

	st, err := mongotop.Run(os.Stdin, opts)
	if *verbose {
		fmt.Fprintf(os.Stderr, "%s: %d lines read, %d gauges sent in %d datagrams, %d skipped, %d datagrams failed\n",
			name, st.Lines, st.Gauges, st.Datagrams, st.Malformed, st.SendErrors)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// statsdAddr combines -statsd with the -host and -port overrides.
func statsdAddr(statsd, host string, port int) (string, error) {
	h, p, err := net.SplitHostPort(statsd)
	if err != nil {
		return "", fmt.Errorf("-statsd %q: want host:port: %v", statsd, err)
	}
	if host != "" {
		h = host
	}
	if port != 0 {
		p = strconv.Itoa(port)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("statsd port %q is not a port number (1-65535)", p)
	}
	if h == "" {
		return "", fmt.Errorf("statsd host is empty")
	}
	return net.JoinHostPort(h, p), nil
}

func usageError(fs *flag.FlagSet, format string, args ...interface{}) int {
	fmt.Fprintf(os.Stderr, "%s: %s\n", name, fmt.Sprintf(format, args...))
	fmt.Fprintf(os.Stderr, "run %s -h for help\n", name)
	return 2
}
