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
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

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
		fmt.Fprintf(stdout, "%s: ok\n", name)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if _, err := serve.RaiseFileLimit(); err != nil {
		log.Warn("cannot raise the open-file limit", "error", err)
	}
	srv, err := serve.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "pwebs:", err)
		return 1
	}
	if err := srv.Listen(); err != nil {
		fmt.Fprintln(stderr, "pwebs:", err)
		return 1
	}
	for _, a := range srv.Addrs() {
		log.Info(fmt.Sprintf("pwebs/%s serving %s on http://%s/", serve.Version, cfg.DocumentRoot, a))
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
				return 1
			}
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				ncfg, err := load(o)
				if err == nil {
					err = srv.Reload(ncfg)
				}
				if err != nil {
					log.Error("reload failed; still serving with the previous configuration:\n" + err.Error())
					continue
				}
				log.Info("configuration reloaded")
			case syscall.SIGUSR1:
			default:
				log.Info("shutting down", "signal", sig.String())
				ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration)
				err := srv.Shutdown(ctx)
				cancel()
				<-served
				if err != nil {
					log.Warn("requests still running at shutdown were cut off")
				}
				return 0
			}
		}
	}
}
