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
// Signals: SIGINT and SIGTERM stop gracefully; SIGHUP reads the
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
		fmt.Fprintf(stderr, "usage: pwebs [-c FILE] [-t] [-listen ADDR] [-root DIR] [-version]\n")
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
// the current folder).
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
			}
			if root != "" {
				c.DocumentRoot = root
			}
		}
	}
	return serve.LoadConfig(configPath(o), override)
}

func run(args []string, stdout, stderr io.Writer) int {
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
		fmt.Fprintf(stdout, "%s: ok\n", name)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, "pwebs: logs:", err)
		return 1
	}
	logs := &logSwitch{}
	logs.cur.Store(logger)
	log := logs.logger()
	defer func() {
		if l := logs.cur.Load(); l != nil {
			l.Close()
		}
	}()
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
		fmt.Fprintln(stderr, "pwebs:", err)
		log.Error(err.Error())
		return 1
	}
	if err := srv.Listen(); err != nil {
		fmt.Fprintln(stderr, "pwebs:", err)
		log.Error(err.Error())
		return 1
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
				fmt.Fprintln(stderr, "pwebs:", err)
				log.Error(err.Error())
				return 1
			}
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				ncfg, err := reload(o, cfg, srv, logs)
				if err != nil {
					log.Error("reload failed; still serving with the previous configuration:\n" + err.Error())
					fmt.Fprintln(stderr, "pwebs: reload failed; still serving with the previous configuration:\n"+err.Error())
					continue
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
				err := srv.Shutdown(ctx)
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
// was.
func reload(o *options, old *serve.Config, srv *serve.Server, logs *logSwitch) (*serve.Config, error) {
	cfg, err := load(o)
	if err != nil {
		return nil, err
	}
	var fresh *logging.Logger
	if !reflect.DeepEqual(cfg.Log, old.Log) {
		if fresh, err = logging.New(cfg.Log); err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
	}
	if err := srv.Reload(cfg); err != nil {
		if fresh != nil {
			fresh.Close()
		}
		return nil, err
	}
	if fresh != nil {
		// Requests already holding the old logs finish with them.
		prev := logs.cur.Swap(fresh)
		time.AfterFunc(2*time.Second, func() { prev.Close() })
	}
	return cfg, nil
}
