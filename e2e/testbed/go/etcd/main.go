// The test bed's etcd: etcd's own server entry point, built from its Go module at the release
// go.mod pins (Debian's etcd 3.4 is older than Kubernetes 1.33+ supports).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
