// The bed's DNS-01 webhook solver: cert-manager's own webhook server library (the aggregated
// API server every cert-manager webhook solver is built on) with a solver that writes the TXT
// record into the bed's BIND through cert-manager's own RFC 2136 provider. It reads its TSIG
// secret from a Secret in the request's resourceNamespace, as real webhook solvers read their
// credentials, so the test proves which namespace certsmith sends.
//
// GROUP_NAME names the API group (the Issuer's webhook.groupName); the solver is "rfc2136".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/acme/webhook/cmd"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	group := os.Getenv("GROUP_NAME")
	if group == "" {
		fmt.Fprintln(os.Stderr, "GROUP_NAME must name the solver's API group")
		os.Exit(1)
	}
	cmd.RunWebhookServer(group, &solver{})
}

// config is the Issuer's webhook.config.
type config struct {
	Nameserver    string `json:"nameserver"`
	TSIGKeyName   string `json:"tsigKeyName"`
	TSIGAlgorithm string `json:"tsigAlgorithm"`
	// The Secret (in the request's resourceNamespace) and its key holding the TSIG secret.
	TSIGSecretSecretRef struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"tsigSecretSecretRef"`
}

type solver struct {
	client kubernetes.Interface
}

func (s *solver) Name() string { return "rfc2136" }

func (s *solver) Initialize(cfg *rest.Config, _ <-chan struct{}) error {
	c, err := kubernetes.NewForConfig(cfg)
	s.client = c
	return err
}

func (s *solver) Present(ch *v1alpha1.ChallengeRequest) error {
	p, err := s.provider(ch)
	if err != nil {
		return err
	}
	return p.Present(ch.DNSName, ch.ResolvedFQDN, ch.ResolvedZone, ch.Key)
}

func (s *solver) CleanUp(ch *v1alpha1.ChallengeRequest) error {
	p, err := s.provider(ch)
	if err != nil {
		return err
	}
	return p.CleanUp(ch.DNSName, ch.ResolvedFQDN, ch.ResolvedZone, ch.Key)
}

func (s *solver) provider(ch *v1alpha1.ChallengeRequest) (*rfc2136.DNSProvider, error) {
	var c config
	if ch.Config != nil {
		if err := json.Unmarshal(ch.Config.Raw, &c); err != nil {
			return nil, fmt.Errorf("bed webhook: config is not valid: %v", err)
		}
	}
	if c.Nameserver == "" {
		return nil, fmt.Errorf("bed webhook: config names no nameserver")
	}
	secret := ""
	if ref := c.TSIGSecretSecretRef; ref.Name != "" {
		sec, err := s.client.CoreV1().Secrets(ch.ResourceNamespace).Get(context.TODO(), ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("bed webhook: TSIG secret: %v", err)
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			return nil, fmt.Errorf("bed webhook: Secret %s/%s has no key %q", ch.ResourceNamespace, ref.Name, ref.Key)
		}
		secret = string(v)
	}
	return rfc2136.NewDNSProviderCredentials(c.Nameserver, c.TSIGAlgorithm, c.TSIGKeyName, secret)
}
