package pushsink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// certValidity is how long a generated certificate is valid.
const certValidity = 365 * 24 * time.Hour

// certificate is the served TLS certificate and what clients need to trust it.
type certificate struct {
	tls  tls.Certificate
	pem  []byte // leaf certificate, PEM
	pool *x509.CertPool
}

func loadOrGenerateCert(given *tls.Certificate, hosts []string, now time.Time) (*certificate, error) {
	if given != nil {
		return fromTLSCert(*given)
	}
	c, err := generateCert(hosts, now)
	if err != nil {
		return nil, fmt.Errorf("pushsink: generate certificate: %w", err)
	}
	return fromTLSCert(c)
}

func fromTLSCert(c tls.Certificate) (*certificate, error) {
	if len(c.Certificate) == 0 {
		return nil, errors.New("pushsink: Config.Certificate has no certificate")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pushsink: parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c.Leaf = leaf
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	return &certificate{tls: c, pem: block, pool: pool}, nil
}

// generateCert makes a self-signed ECDSA P-256 certificate, usable as its own
// root, for the loopback addresses, localhost and hosts.
func generateCert(hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pushsink", Organization: []string{"Oven dev"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	addHosts(tmpl, append([]string{"127.0.0.1", "::1", "localhost"}, hosts...))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func addHosts(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
}

// CertPEM returns the served certificate (PEM), for clients to trust.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.cert.pem...) }

// CertPool returns a pool holding only the served certificate.
func (s *Server) CertPool() *x509.CertPool { return s.cert.pool.Clone() }

// ClientTLSConfig returns a TLS client configuration that trusts the sink.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
}

// Transport returns a new HTTP transport that trusts the sink and speaks
// HTTP/2 to it.
func (s *Server) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = s.ClientTLSConfig()
	t.ForceAttemptHTTP2 = true
	t.Proxy = nil
	return t
}

// HTTPClient returns a new HTTP client using Transport.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: s.Transport(), Timeout: 30 * time.Second}
}
