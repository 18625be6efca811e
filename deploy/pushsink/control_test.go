package pushsink_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sideshow/apns2"

	"github.com/ovengames/oven/deploy/pushsink"
)

type deliveriesAnswer struct {
	Deliveries []pushsink.Delivery
}

// TestControlAPI steers and reads the sink over HTTP, as the dev runner or
// an outside test would.
func TestControlAPI(t *testing.T) {
	srv, c := verifyingSink(t)
	ctl := srv.HTTPClient()
	dev := pushsink.FakeAPNsToken()

	res := do(t, ctl, "POST", srv.URL()+"/sink/unregistered", nil, []byte(`{"provider":"apns","token":"`+dev+`"}`))
	if res.status != http.StatusNoContent {
		t.Fatalf("POST /sink/unregistered = %d %s", res.status, res.body)
	}
	if r := push(t, c, alert(dev)); r.Reason != apns2.ReasonUnregistered {
		t.Fatalf("push after POST /sink/unregistered: %+v", r)
	}
	do(t, ctl, "DELETE", srv.URL()+"/sink/unregistered", nil, []byte(`{"provider":"apns","token":"`+dev+`"}`))
	if r := push(t, c, alert(dev)); !r.Sent() {
		t.Fatalf("push after DELETE /sink/unregistered: %+v", r)
	}
	push(t, c, alert(pushsink.FakeAPNsToken()))

	all := decode[deliveriesAnswer](t, do(t, ctl, "GET", srv.URL()+"/sink/deliveries", nil, nil).body).Deliveries
	if len(all) != 3 || all[0].Status != 410 || all[1].Status != 200 || string(all[1].Payload) == "" {
		t.Fatalf("deliveries = %+v", all)
	}
	mine := decode[deliveriesAnswer](t, do(t, ctl, "GET", srv.URL()+"/sink/deliveries?provider=apns&token="+dev, nil, nil).body).Deliveries
	if len(mine) != 2 {
		t.Errorf("filtered by token: %d deliveries, want 2", len(mine))
	}
	since := strconv.FormatInt(all[1].Seq, 10)
	if later := decode[deliveriesAnswer](t, do(t, ctl, "GET", srv.URL()+"/sink/deliveries?since="+since, nil, nil).body).Deliveries; len(later) != 1 {
		t.Errorf("since=%s: %d deliveries, want 1", since, len(later))
	}

	if res := do(t, ctl, "DELETE", srv.URL()+"/sink/deliveries", nil, nil); res.status != http.StatusNoContent || len(srv.Deliveries()) != 0 {
		t.Errorf("DELETE /sink/deliveries = %d, %d left", res.status, len(srv.Deliveries()))
	}
	for _, bad := range []string{`{"provider":"gcm","token":"x"}`, `{"provider":"fcm"}`, `nope`} {
		if res := do(t, ctl, "POST", srv.URL()+"/sink/unregistered", nil, []byte(bad)); res.status != http.StatusBadRequest {
			t.Errorf("POST %s = %d, want 400", bad, res.status)
		}
	}
}

func TestDeliveriesAreBounded(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{MaxDeliveries: 2})
	h := srv.HTTPClient()
	for range 3 {
		do(t, h, "POST", srv.URL()+"/3/device/x", nil, nil)
	}
	ds := srv.Deliveries()
	if len(ds) != 2 || ds[0].Seq != 2 || ds[1].Seq != 3 {
		t.Errorf("deliveries = %+v", ds)
	}
}

func TestTLSAndClose(t *testing.T) {
	srv, err := pushsink.Start(pushsink.Config{Hosts: []string{"pushsink", "10.1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	leaf := srv.CertPool()
	if leaf == nil || len(srv.CertPEM()) == 0 {
		t.Fatal("no certificate exposed")
	}
	cfg := srv.ClientTLSConfig()
	cfg.ServerName = "pushsink" // an extra host name is in the certificate
	tr := srv.Transport()
	tr.TLSClientConfig = cfg
	res := do(t, &http.Client{Transport: tr}, "GET", srv.URL()+"/sink/deliveries", nil, nil)
	if res.status != 200 || res.proto != 2 {
		t.Errorf("GET over TLS = HTTP/%d %d", res.proto, res.status)
	}
	tr.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(srv.URL()); err == nil {
		t.Error("still serving after Close")
	}

}

func TestGivenCertificate(t *testing.T) {
	cert, certPEM := selfSigned(t)
	srv := pushsink.StartForTest(t, pushsink.Config{Certificate: &cert})
	if string(srv.CertPEM()) != string(certPEM) {
		t.Errorf("CertPEM is not the given certificate")
	}
	res := do(t, srv.HTTPClient(), "GET", srv.URL()+"/sink/deliveries", nil, nil)
	if res.status != 200 {
		t.Errorf("GET = %d", res.status)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
