// Package deploy holds SpaceTime's deployment artifacts and the tests that
// keep them true: the container image (Dockerfile), the Kubernetes
// manifests (kubernetes/), the systemd unit (systemd/), the Prometheus
// rules (prometheus/) and the Grafana dashboard (grafana/).
//
// It has no code of its own. Its tests decode every manifest strictly into
// the k8s.io/api types and check the manifests against each other and
// against the binary: flags, ports, probe routes, environment variables,
// config files, secrets, network reachability, the image's user. Some run
// the release binary the way the image, the Deployment and the unit start
// it, and the backup CronJob's script against a real PostgreSQL.
//
// The ConfigMaps that copy files (configmap.yaml from config/*.json,
// prometheus-alerts.yaml from prometheus/alerts.yaml, grafana-dashboard.yaml
// from grafana/dashboard.json) are generated:
//
//	go test ./deploy -run TestGeneratedConfigMaps -update
package deploy
