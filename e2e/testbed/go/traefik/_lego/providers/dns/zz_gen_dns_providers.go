// build-traefik.sh lays this file over lego's generated table of DNS-01 providers (same path in
// its module) in a copy of lego that go.mod's replace points at: the table imports every
// provider's cloud SDK, and the Go module proxy serves none of several of them (akamai, azion,
// dnsimple, huaweicloud, oci, sacloud, ucloud, yandex, ... at the versions lego pins). The test
// bed's Traefik routes HTTP and solves no ACME challenge of its own, so every DNS provider name
// is refused. The `_` folder keeps the go command from taking it for a package of this module.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName refuses every provider (none is built in).
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("unrecognized DNS provider: %s (not built into the test bed's Traefik)", name)
}
