// Command pwebs is a classic web server: static files from a memory cache,
// CGI and PHP scripts, Server Side Includes, directory listings and
// Apache-format logs, configured by one file, pwebs.conf.
//
// Usage:
//
//	pwebs [-c FILE] [-t] [-listen ADDR] [-root DIR] [-version]
//
// With no -c, pwebs reads pwebs.conf from the current folder if there is
// one, and otherwise uses built-in defaults. -t checks the configuration
// and exits. -listen and -root override the configuration, so that
// "pwebs -root . -listen 127.0.0.1:8000" serves a folder with no config.
//
// Signals: SIGINT and SIGTERM stop gracefully, waiting for requests in
// flight up to shutdown_timeout, and a second one stops at once; SIGHUP reads the
// configuration again; SIGUSR1 reopens the log files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pwebs/pwebs/logging"
	"github.com/pwebs/pwebs/serve"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line's flags.
type options struct {
	config  string
	test    bool
	listen  string
	root    string
	version bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("pwebs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.config, "c", "", "config `file` (default: pwebs.conf in the current folder, if present)")
	fs.BoolVar(&o.test, "t", false, "check the configuration and exit")
	fs.StringVar(&o.listen, "listen", "", "listen on `addr` (host:port; several separated by commas), overriding the config")
	fs.StringVar(&o.root, "root", "", "serve `dir` as the document root, overriding the config")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pwebs [-c FILE] [-t] [-listen ADDR] [-root DIR] [-version]\n"+
			"       pwebs ssi [-c FILE] PATH [QUERY]   render an SSI page to stdout\n"+
			"       pwebs check [-c FILE]              check every SSI page\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// configPath picks the config file: -c, else ./pwebs.conf if it exists.
func configPath(o *options) string {
	if o.config != "" {
		return o.config
	}
	if fi, err := os.Stat("pwebs.conf"); err == nil && fi.Mode().IsRegular() {
		return "pwebs.conf"
	}
	return ""
}

// load reads the configuration and applies the command line's overrides:
// -listen (several addresses separated by commas) and -root (relative to
// the current folder). A problem with their values names the flag.
func load(o *options) (*serve.Config, error) {
	var override func(*serve.Config)
	if o.listen != "" || o.root != "" {
		root := o.root
		if root != "" && !filepath.IsAbs(root) {
			wd, err := os.Getwd()
			if err != nil {
				return nil, err
			}
			root = filepath.Join(wd, root)
		}
		override = func(c *serve.Config) {
			if o.listen != "" {
				c.Listen = strings.Split(o.listen, ",")
				c.FromFlag("listen", "-listen")
			}
			if root != "" {
				c.DocumentRoot = root
				c.FromFlag("document_root", "-root")
			}
		}
	}
	return serve.LoadConfig(configPath(o), override)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "ssi":
			return runSSI(args[1:], stdout, stderr)
		case "check":
			return runCheck(args[1:], stdout, stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "pwebs:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "pwebs", serve.Version)
		return 0
	}
	cfg, err := load(o)
	name := configPath(o)
	if name == "" {
		name = "pwebs (built-in configuration)"
	}
	if o.test {
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "warning: "+w)
		}
		bad := false
		if os.Geteuid() == 0 && cfg.User != "" {
			// What matters after the drop, checked as that user.
			a, err := lookupAccount(cfg)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return 1
			}
			problems, err := checkAsUser(a, checksAfterDrop(cfg))
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return 1
			}
			for _, p := range problems {
				fmt.Fprintf(stderr, "%s: user %s %s\n", name, a.name, p)
				bad = true
			}
			if p := inotifyProblem(cfg); p != "" {
				fmt.Fprintf(stderr, "warning: %s: %s\n", name, p)
			}
		} else if os.Geteuid() == 0 {
			fmt.Fprintf(stderr, "%s: started as root, pwebs needs user set (for example user = \"www-data\"); it will not serve as root\n", name)
			bad = true
		}
		if bad {
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", name)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var acct *account
	if os.Geteuid() == 0 {
		if cfg.User == "" {
			fmt.Fprintf(stderr, "pwebs: started as root with no user to serve as: set user in %s (for example user = \"www-data\"); pwebs will not serve as root\n", name)
			return 1
		}
		if acct, err = lookupAccount(cfg); err != nil {
			fmt.Fprintln(stderr, "pwebs:", err)
			return 1
		}
		// Check now, as that user, what serving will need, rather than
		// answer 403 to every request later.
		problems, err := checkAsUser(acct, checksAfterDrop(cfg))
		if err != nil {
			fmt.Fprintln(stderr, "pwebs:", err)
			return 1
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "pwebs: user %s %s\n", acct.name, p)
		}
		if len(problems) > 0 {
			return 1
		}
	}
	logger, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, "pwebs: logs:", err)
		return 1
	}
	setMemoryLimit(cfg)
	logs := &logSwitch{}
	logs.cur.Store(logger)
	log := logs.logger()
	defer func() {
		if l := logs.cur.Load(); l != nil {
			l.Close()
		}
	}()
	// fail reports a problem that stops pwebs in the error log, and on
	// stderr unless the error log is stderr already.
	fail := func(msg string) int {
		log.Error(msg)
		if cfg.Log.Error != "-" {
			fmt.Fprintln(stderr, "pwebs: "+msg)
		}
		return 1
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if n, err := serve.RaiseFileLimit(); err != nil {
		log.Warn("cannot raise the open-file limit", "error", err)
	} else {
		log.Debug(fmt.Sprintf("open-file limit %d", n))
	}
	srv, err := serve.New(cfg, serve.Logs{Error: log, Access: logs})
	if err != nil {
		return fail(err.Error())
	}
	if err := srv.Listen(); err != nil {
		return fail(err.Error())
	}
	if acct != nil {
		// Bound and logs open: hand the log folders to the user (so that
		// rotation and reopening work), then drop root for good.
		if err := logger.Chown(acct.uid, acct.gid); err != nil {
			log.Warn("giving the logs to " + acct.name + ": " + err.Error())
		}
		if err := dropPrivileges(acct); err != nil {
			return fail("dropping privileges: " + err.Error())
		}
		log.Log(context.Background(), logging.LevelNotice, fmt.Sprintf("serving as user %s (uid %d, gid %d)", acct.name, acct.uid, acct.gid))
	} else if cfg.User != "" || cfg.Group != "" {
		log.Log(context.Background(), logging.LevelNotice, "user and group are ignored: pwebs was not started as root")
	}
	for _, a := range srv.Addrs() {
		log.Log(context.Background(), logging.LevelNotice, fmt.Sprintf("pwebs/%s serving %s on http://%s/ (pid %d)", serve.Version, cfg.DocumentRoot, a, os.Getpid()))
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	for {
		select {
		case err := <-served:
			if err != nil {
				return fail(err.Error())
			}
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				ncfg, stale, err := reload(o, cfg, srv, logs)
				if err != nil {
					// One record per problem, each saying what it
					// stopped, in the order of the file's lines.
					for _, p := range strings.Split(err.Error(), "\n") {
						log.Error("reload failed, still serving with the previous configuration: " + p)
					}
					if cfg.Log.Error != "-" {
						fmt.Fprintln(stderr, "pwebs: reload failed; still serving with the previous configuration:\n"+err.Error())
					}
					continue
				}
				for _, key := range stale {
					log.Warn(key + " changed, but takes effect only when pwebs is restarted: still " + restartValue(cfg, key))
				}
				cfg = ncfg
				log.Log(context.Background(), logging.LevelNotice, "configuration reloaded")
			case syscall.SIGUSR1:
				if err := logs.cur.Load().Reopen(); err != nil {
					log.Error("reopening the logs: " + err.Error())
				} else {
					log.Log(context.Background(), logging.LevelNotice, "logs reopened")
				}
			default:
				log.Log(context.Background(), logging.LevelNotice, "shutting down on "+sig.String())
				ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration)
				stopped := make(chan struct{})
				go func() {
					// A second SIGINT or SIGTERM stops at once, cutting
					// off what still runs; others are ignored now.
					for {
						select {
						case sig := <-sigs:
							if sig == syscall.SIGINT || sig == syscall.SIGTERM {
								log.Log(context.Background(), logging.LevelNotice, "stopping at once on a second "+sig.String())
								cancel()
								return
							}
						case <-stopped:
							return
						}
					}
				}()
				err := srv.Shutdown(ctx)
				close(stopped)
				cancel()
				<-served
				if err != nil {
					log.Warn("requests still running at shutdown were cut off")
				}
				log.Log(context.Background(), logging.LevelNotice, "stopped")
				return 0
			}
		}
	}
}

// reload reads the configuration again and applies it: a new [log]
// section opens new logs first, so that a bad one leaves everything as it
// was. It returns the keys that changed but need a restart (see
// needRestart); the configuration returned keeps their values in force.
func reload(o *options, old *serve.Config, srv *serve.Server, logs *logSwitch) (*serve.Config, []string, error) {
	cfg, err := load(o)
	if err != nil {
		return nil, nil, err
	}
	stale := needRestart(old, cfg)
	keepRestartKeys(old, cfg)
	var fresh *logging.Logger
	if !reflect.DeepEqual(cfg.Log, old.Log) {
		if fresh, err = logging.New(cfg.Log); err != nil {
			return nil, nil, fmt.Errorf("logs: %w", err)
		}
	}
	if err := srv.Reload(cfg); err != nil {
		if fresh != nil {
			fresh.Close()
		}
		return nil, nil, err
	}
	setMemoryLimit(cfg)
	if fresh != nil {
		// Requests already holding the old logs finish with them.
		prev := logs.cur.Swap(fresh)
		time.AfterFunc(2*time.Second, func() { prev.Close() })
	}
	return cfg, stale, nil
}

// needRestart returns the keys that a reload from old to cfg changed but
// cannot apply: the listeners are bound, the connection bound derived and
// the privileges dropped once, at start.
func needRestart(old, cfg *serve.Config) []string {
	var keys []string
	if !slices.Equal(old.Listen, cfg.Listen) {
		keys = append(keys, "listen")
	}
	if old.ListenBacklog != cfg.ListenBacklog {
		keys = append(keys, "listen_backlog")
	}
	if old.DeferAccept != cfg.DeferAccept {
		keys = append(keys, "defer_accept")
	}
	if old.MaxConnections != cfg.MaxConnections {
		keys = append(keys, "max_connections")
	}
	if old.User != cfg.User {
		keys = append(keys, "user")
	}
	if old.Group != cfg.Group {
		keys = append(keys, "group")
	}
	return keys
}

// restartValue shows the value in force of a key needRestart returns.
func restartValue(cfg *serve.Config, key string) string {
	switch key {
	case "listen":
		return strings.Join(cfg.Listen, ", ")
	case "listen_backlog":
		return strconv.Itoa(cfg.ListenBacklog)
	case "defer_accept":
		return strconv.FormatBool(cfg.DeferAccept)
	case "max_connections":
		if cfg.MaxConnections == 0 {
			return "0 (from the open-file limit)"
		}
		return strconv.Itoa(cfg.MaxConnections)
	case "user":
		return strconv.Quote(cfg.User)
	case "group":
		return strconv.Quote(cfg.Group)
	}
	return ""
}

// keepRestartKeys gives cfg the values in force in old of the keys a
// reload cannot apply, so that cfg says what pwebs runs with and the next
// reload warns again about what still waits for a restart.
func keepRestartKeys(old, cfg *serve.Config) {
	cfg.Listen, cfg.ListenBacklog, cfg.MaxConnections = old.Listen, old.ListenBacklog, old.MaxConnections
	cfg.DeferAccept = old.DeferAccept
	cfg.User, cfg.Group = old.User, old.Group
}

// runSSI is "pwebs ssi [-c FILE] PATH [QUERY]": it renders a page as the
// server would, to stdout, and prints each error to stderr as
// FILE:LINE: message; it exits 1 if there was any.
func runSSI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pwebs ssi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("c", "", "config `file` (default: pwebs.conf in the current folder, if present)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pwebs ssi [-c FILE] PATH [QUERY]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return 2
	}
	cfg, err := load(&options{config: *config})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	n, err := serve.RenderSSI(cfg, fs.Arg(0), fs.Arg(1), stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "pwebs ssi:", err)
		return 1
	}
	if n > 0 {
		return 1
	}
	return 0
}

// runCheck is "pwebs check [-c FILE]": it checks every SSI page of every
// document root and prints each problem as FILE:LINE: message; it exits 1
// if there was any.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pwebs check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("c", "", "config `file` (default: pwebs.conf in the current folder, if present)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pwebs check [-c FILE]")
		return 2
	}
	cfg, err := load(&options{config: *config})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	n, err := serve.CheckSSI(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "pwebs check:", err)
		return 1
	}
	if n > 0 {
		fmt.Fprintf(stderr, "%d problem(s)\n", n)
		return 1
	}
	fmt.Fprintln(stdout, "no problems found")
	return 0
}

// memoryHeadroom is what the Go runtime may use beyond the cache's bound:
// with the program's own pages and the kernel's accounting, the process's
// resident size then stays within the cache's bound plus 64 MiB.
const memoryHeadroom = 48 << 20

// setMemoryLimit sets Go's soft memory limit to the cache's bound plus
// memoryHeadroom, unless GOMEMLIMIT says otherwise. The cache is most of
// the heap; without a limit the garbage collector lets the heap grow to
// twice what is live, so evicted entries would double the process's size
// before they are collected.
func setMemoryLimit(cfg *serve.Config) {
	if os.Getenv("GOMEMLIMIT") != "" || !cfg.Cache.Enabled {
		return
	}
	debug.SetMemoryLimit(int64(cfg.Cache.MaxSize) + memoryHeadroom)
}
