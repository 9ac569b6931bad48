# go-env.sh — how the build scripts run Go (sourced): the modules' go.mod and go.sum are the
# truth (-mod=readonly: nothing is resolved anew), no C toolchain is needed, and the build cache
# lives with the bed's other caches. A Go older than a module's `go` line fetches the toolchain
# it names through the module proxy (GOTOOLCHAIN=auto).
command -v go >/dev/null || { echo "go missing: Go 1.26 comes with the machine (or PATH)" >&2; exit 1; }
export GOFLAGS=-mod=readonly CGO_ENABLED=0 GOTOOLCHAIN=auto GOCACHE=$CERTSMITH_CACHE/gocache
