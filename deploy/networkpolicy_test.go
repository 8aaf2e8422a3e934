package deploy

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// endpoint is one end of a connection the network policies are asked
// about: a pod (its namespace's labels and its own) or an address outside
// the cluster.
type endpoint struct {
	Name      string
	Namespace string            // "" for an outside address
	NSLabels  map[string]string // the namespace's labels
	Pod       map[string]string // the pod's labels
	Ports     []corev1.ContainerPort
	IP        netip.Addr // outside addresses only
}

func (e endpoint) outside() bool { return e.Namespace == "" }

// policyEval answers "may src open port/proto on dst" under a set of
// NetworkPolicies, with the semantics of networking.k8s.io/v1: a pod
// selected by no policy of a direction allows everything in it; a pod
// selected by some allows only what one of their rules admits; a
// connection needs both src's egress and dst's ingress.
type policyEval struct {
	t        *testing.T
	policies []*networkingv1.NetworkPolicy
}

func (e policyEval) allowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return e.ingressAllowed(src, dst, port, proto) && e.egressAllowed(src, dst, port, proto)
}

func (e policyEval) ingressAllowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	if dst.outside() {
		return true
	}
	isolated := false
	for _, p := range e.policies {
		if p.Namespace != dst.Namespace || !selects(e.t, &p.Spec.PodSelector, dst.Pod) || !hasType(p, networkingv1.PolicyTypeIngress) {
			continue
		}
		isolated = true
		for _, r := range p.Spec.Ingress {
			if e.peersMatch(r.From, p.Namespace, src) && portsMatch(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return !isolated
}

func (e policyEval) egressAllowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	if src.outside() {
		return true
	}
	isolated := false
	for _, p := range e.policies {
		if p.Namespace != src.Namespace || !selects(e.t, &p.Spec.PodSelector, src.Pod) || !hasType(p, networkingv1.PolicyTypeEgress) {
			continue
		}
		isolated = true
		for _, r := range p.Spec.Egress {
			if e.peersMatch(r.To, p.Namespace, dst) && portsMatch(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return !isolated
}

// hasType reports whether a policy governs a direction. Without explicit
// policyTypes, Ingress always, and Egress when it has egress rules.
func hasType(p *networkingv1.NetworkPolicy, typ networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return typ == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == typ {
			return true
		}
	}
	return false
}

// peersMatch reports whether ep is one of peers; no peers means anyone.
func (e policyEval) peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, ep endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if ep.outside() && inBlock(e.t, peer.IPBlock, ep.IP) {
				return true
			}
			continue
		}
		if ep.outside() {
			continue
		}
		nsOK := ep.Namespace == policyNS
		if peer.NamespaceSelector != nil {
			nsOK = selects(e.t, peer.NamespaceSelector, ep.NSLabels)
		}
		podOK := peer.PodSelector == nil || selects(e.t, peer.PodSelector, ep.Pod)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func inBlock(t *testing.T, b *networkingv1.IPBlock, ip netip.Addr) bool {
	t.Helper()
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		t.Fatalf("ipBlock %q: %v", b.CIDR, err)
	}
	if !cidr.Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		p, err := netip.ParsePrefix(ex)
		if err != nil {
			t.Fatalf("ipBlock except %q: %v", ex, err)
		}
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// portsMatch reports whether a rule's ports admit port/proto on dst; no
// ports means every port. Named ports resolve against dst's containers.
func portsMatch(ports []networkingv1.NetworkPolicyPort, dst endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.StrVal != "" {
			for _, cp := range dst.Ports {
				if cp.Name == p.Port.StrVal && cp.ContainerPort == port {
					return true
				}
			}
			continue
		}
		lo, hi := p.Port.IntVal, p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

// The network policies keep telemetry (8081, with the unauthenticated
// /metrics) and discovery (8087/udp) inside the cluster, and let through
// exactly the connections the system needs.
func TestNetworkPolicy(t *testing.T) {
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	cfg := p.Config
	ev := policyEval{t: t, policies: objectsOf[networkingv1.NetworkPolicy](ms)}
	if len(ev.policies) == 0 {
		t.Fatal("no NetworkPolicy")
	}
	ns := named[corev1.Namespace](t, ms, namespace)
	nsLabels := map[string]string{"kubernetes.io/metadata.name": namespace}
	for k, v := range ns.Labels {
		nsLabels[k] = v
	}
	pod := func(kind, name, container string) endpoint {
		w := findWorkload(t, ms, kind, name)
		var ports []corev1.ContainerPort
		for _, c := range w.Template.Spec.Containers {
			ports = append(ports, c.Ports...)
		}
		return endpoint{Name: name, Namespace: namespace, NSLabels: nsLabels, Pod: w.Template.Labels, Ports: ports}
	}
	other := func(ns string, labels map[string]string) endpoint {
		return endpoint{Name: ns + fmt.Sprint(labels), Namespace: ns, NSLabels: map[string]string{"kubernetes.io/metadata.name": ns}, Pod: labels}
	}
	server := pod("Deployment", serverName, serverName)
	postgres := pod("StatefulSet", postgresName, "postgres")
	redis := pod("StatefulSet", redisName, "redis")
	backup := pod("CronJob", backupName, "pg-dump")
	stranger := endpoint{Namespace: namespace, NSLabels: nsLabels, Pod: map[string]string{"app": "debug-shell"}, Name: "another pod in the namespace"}
	ingress := other("ingress-nginx", map[string]string{"app.kubernetes.io/name": "ingress-nginx"})
	prometheus := other("monitoring", map[string]string{"app.kubernetes.io/name": "prometheus"})
	dns := other("kube-system", map[string]string{"k8s-app": "kube-dns"})
	tenant := other("default", map[string]string{"app": "web"})
	internet := endpoint{Name: "the internet", IP: netip.MustParseAddr("203.0.113.7")}
	lan := endpoint{Name: "a private address", IP: netip.MustParseAddr("10.1.2.3")}

	api := int32(cfg.Networking.HTTP.Port)
	tel := int32(cfg.Networking.Telemetry.Port)
	disc := int32(cfg.Networking.Discovery.Port)
	pg := int32(cfg.Database.Port)
	rd := int32(cfg.Cache.Port)
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP

	tests := []struct {
		src, dst endpoint
		port     int32
		proto    corev1.Protocol
		want     bool
	}{
		// The API: through the ingress controller.
		{ingress, server, api, tcp, true},
		// Another pod of the namespace is let in by the server's policy
		// but needs an egress policy of its own (default-deny); see below.
		{stranger, server, api, tcp, false},
		{internet, server, api, tcp, false},
		{tenant, server, api, tcp, false},
		// Telemetry and /metrics: the namespace and Prometheus only.
		{prometheus, server, tel, tcp, true},
		{stranger, server, tel, tcp, false},
		{ingress, server, tel, tcp, false},
		{internet, server, tel, tcp, false},
		{lan, server, tel, tcp, false},
		{tenant, server, tel, tcp, false},
		// Discovery: server to server only.
		{server, server, disc, udp, true},
		{stranger, server, disc, udp, false},
		{ingress, server, disc, udp, false},
		{internet, server, disc, udp, false},
		{lan, server, disc, udp, false},
		{tenant, server, disc, udp, false},
		{server, internet, disc, udp, false},
		// The server's own connections.
		{server, postgres, pg, tcp, true},
		{server, redis, rd, tcp, true},
		{server, dns, 53, udp, true},
		{server, dns, 53, tcp, true},
		{server, internet, 443, tcp, false},
		// Backing services: their clients only.
		{backup, postgres, pg, tcp, true},
		{backup, dns, 53, udp, true},
		{backup, redis, rd, tcp, false},
		{backup, internet, 443, tcp, false},
		{stranger, postgres, pg, tcp, false},
		{stranger, redis, rd, tcp, false},
		{ingress, postgres, pg, tcp, false},
		{tenant, redis, rd, tcp, false},
		{internet, postgres, pg, tcp, false},
		{postgres, internet, 443, tcp, false},
		{redis, internet, 443, tcp, false},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s to %s port %d/%s", tc.src.Name, tc.dst.Name, tc.port, tc.proto)
		if got := ev.allowed(tc.src, tc.dst, tc.port, tc.proto); got != tc.want {
			t.Errorf("%s: allowed = %v, want %v", name, got, tc.want)
		}
	}

	for _, port := range []int32{api, tel} {
		if !ev.ingressAllowed(stranger, server, port, tcp) {
			t.Errorf("the server does not admit port %d from its own namespace (a Prometheus there, kubectl run curl)", port)
		}
	}

	// Whatever the rules, no rule admitting 8081 or 8087 on the server may
	// name an ipBlock or admit every source.
	for _, pol := range ev.policies {
		if !selects(t, &pol.Spec.PodSelector, server.Pod) {
			continue
		}
		for i, r := range pol.Spec.Ingress {
			if !portsMatch(r.Ports, server, tel, tcp) && !portsMatch(r.Ports, server, disc, udp) {
				continue
			}
			if len(r.From) == 0 {
				t.Errorf("policy %s ingress rule %d admits the internal ports from anywhere", pol.Name, i)
			}
			for _, peer := range r.From {
				if peer.IPBlock != nil {
					t.Errorf("policy %s ingress rule %d admits the internal ports from ipBlock %s", pol.Name, i, peer.IPBlock.CIDR)
				}
				if peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0 {
					t.Errorf("policy %s ingress rule %d admits the internal ports from every namespace", pol.Name, i)
				}
			}
		}
	}
}

// The evaluator itself: a pod no policy selects is open; one selected is
// closed but for its rules; named ports and port ranges resolve.
func TestPolicyEval(t *testing.T) {
	tcp := corev1.ProtocolTCP
	app := map[string]string{"app": "a"}
	ns := map[string]string{"kubernetes.io/metadata.name": "n"}
	a := endpoint{Name: "a", Namespace: "n", NSLabels: ns, Pod: app, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}
	b := endpoint{Name: "b", Namespace: "n", NSLabels: ns, Pod: map[string]string{"app": "b"}}
	out := endpoint{Name: "out", IP: netip.MustParseAddr("198.51.100.1")}
	httpPort := intstr.FromString("http")
	lowPort, end := intstr.FromInt32(85), int32(90)
	pol := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: app},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "b"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &httpPort}}},
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "198.51.100.0/24"}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &lowPort, EndPort: &end}}},
			},
		},
	}
	open := policyEval{t: t}
	closed := policyEval{t: t, policies: []*networkingv1.NetworkPolicy{pol}}
	for _, tc := range []struct {
		ev       policyEval
		src, dst endpoint
		port     int32
		want     bool
	}{
		{open, out, a, 1234, true},
		{closed, b, a, 80, true},
		{closed, b, a, 81, false},
		{closed, out, a, 80, false},
		{closed, out, a, 87, true},
		{closed, out, a, 91, false},
		{closed, a, b, 1234, true}, // b is selected by nothing
	} {
		if got := tc.ev.allowed(tc.src, tc.dst, tc.port, tcp); got != tc.want {
			t.Errorf("%s to %s:%d with %d policies: %v, want %v", tc.src.Name, tc.dst.Name, tc.port, len(tc.ev.policies), got, tc.want)
		}
	}
}
