// Command dataeco installs and runs a local streaming data platform on Docker. This file only
// wires the process (streams, signals, build stamp) to the installer package.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dataeco/dataeco/installer"
)

// Stamped by the release build (-ldflags -X).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := &installer.App{
		Streams: installer.System(os.Getenv),
		Getenv:  os.Getenv,
		Build:   installer.BuildInfo{Version: version, Commit: commit, Date: date},
	}
	code := installer.Main(ctx, app, os.Args)
	stop()
	os.Exit(code)
}
