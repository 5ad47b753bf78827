package deploy

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rendered holds the kustomize base's output, each object decoded strictly.
type rendered struct {
	deployment     appsv1.Deployment
	configMap      corev1.ConfigMap
	serviceAccount corev1.ServiceAccount
	podMonitor     monitoringv1.PodMonitor
}

// render builds deploy/kubernetes as `kubectl kustomize` would and decodes
// every object into its k8s.io/api (or prometheus-operator) type, rejecting
// unknown and duplicate fields.
func render(t *testing.T) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), "kubernetes")
	if err != nil {
		t.Fatalf("kustomize build kubernetes: %v", err)
	}
	var r rendered
	seen := map[string]int{}
	for _, res := range resMap.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind := res.GetKind()
		var into any
		switch kind {
		case "Deployment":
			into = &r.deployment
		case "ConfigMap":
			into = &r.configMap
		case "ServiceAccount":
			into = &r.serviceAccount
		case "PodMonitor":
			into = &r.podMonitor
		default:
			t.Errorf("kustomize output has a %s (%s); this test knows no type for it", kind, res.GetName())
			continue
		}
		seen[kind]++
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Errorf("strict decoding of %s %s: %v\n%s", kind, res.GetName(), err, b)
		}
	}
	for _, kind := range []string{"Deployment", "ConfigMap", "ServiceAccount", "PodMonitor"} {
		if seen[kind] != 1 {
			t.Errorf("kustomize output has %d %s objects, want 1", seen[kind], kind)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

func TestKustomizeRendersStrictly(t *testing.T) {
	r := render(t)
	if got, want := r.deployment.APIVersion+" "+r.podMonitor.APIVersion, "apps/v1 monitoring.coreos.com/v1"; got != want {
		t.Errorf("apiVersions = %q, want %q", got, want)
	}
	for _, c := range allContainers(r.deployment) {
		if !strings.Contains(c.Image, ":") || !strings.Contains(c.Image, "/") {
			t.Errorf("container %s: image %q not rewritten by kustomization.yaml images:", c.Name, c.Image)
		}
	}
}

func allContainers(d appsv1.Deployment) []corev1.Container {
	return append(slices.Clone(d.Spec.Template.Spec.InitContainers), d.Spec.Template.Spec.Containers...)
}

// proxyContainer returns the agentcore-proxy sidecar, which must be a native
// sidecar: an init container with restartPolicy Always.
func proxyContainer(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	spec := d.Spec.Template.Spec
	for _, c := range spec.Containers {
		if c.Name == "agentcore-proxy" {
			t.Fatalf("agentcore-proxy is a regular container; want a native sidecar (initContainers, restartPolicy: Always)")
		}
	}
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "agentcore-proxy" {
		t.Fatalf("initContainers = %v, want exactly the agentcore-proxy sidecar", names(spec.InitContainers))
	}
	c := spec.InitContainers[0]
	if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("agentcore-proxy restartPolicy = %v, want Always (native sidecar)", c.RestartPolicy)
	}
	return c
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestKubernetesSidecar(t *testing.T) {
	r := render(t)
	d := r.deployment
	spec := d.Spec.Template.Spec
	proxy := proxyContainer(t, d)
	env := r.configMap.Data

	// Settings come from the ConfigMap and name real flags.
	if len(proxy.EnvFrom) != 1 || proxy.EnvFrom[0].ConfigMapRef == nil || proxy.EnvFrom[0].ConfigMapRef.Name != r.configMap.Name {
		t.Errorf("agentcore-proxy envFrom = %+v, want the ConfigMap %s", proxy.EnvFrom, r.configMap.Name)
	}
	var keys []string
	for k := range env {
		keys = append(keys, k)
	}
	checkEnvNames(t, "configmap.yaml", keys)
	for _, k := range []string{"AGENTCORE_PROXY_RUNTIME_ARN", "AGENTCORE_PROXY_DISCOVERY_URL", "AGENTCORE_PROXY_CLIENT_ID", "AGENTCORE_PROXY_LISTEN", "AGENTCORE_PROXY_METRICS_LISTEN"} {
		if env[k] == "" {
			t.Errorf("configmap.yaml: %s is empty", k)
		}
	}
	if _, ok := env["AGENTCORE_PROXY_CLIENT_SECRET"]; ok {
		t.Errorf("configmap.yaml holds the client secret; it belongs in the Secret")
	}

	// The agent reaches the proxy on the pod's loopback, so no inbound token.
	listen := env["AGENTCORE_PROXY_LISTEN"]
	checkLoopback(t, "configmap.yaml AGENTCORE_PROXY_LISTEN", listen)
	var agent *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == "agent" {
			agent = &spec.Containers[i]
		}
	}
	if agent == nil {
		t.Fatalf("containers = %v, want an agent", names(spec.Containers))
	}
	wantURL := "http://" + listen + "/mcp"
	if !slices.ContainsFunc(agent.Env, func(e corev1.EnvVar) bool { return e.Value == wantURL }) {
		t.Errorf("agent env = %+v, want a variable holding %s", agent.Env, wantURL)
	}

	// The secret is a file, passed with --client-secret-file.
	var secretFile string
	for _, a := range proxy.Args {
		if v, ok := strings.CutPrefix(a, "--client-secret-file="); ok {
			secretFile = v
		}
	}
	if secretFile == "" {
		t.Fatalf("agentcore-proxy args = %v, want --client-secret-file=PATH", proxy.Args)
	}
	if proxy.Args[0] != "serve" {
		t.Errorf("agentcore-proxy args = %v, want serve first", proxy.Args)
	}
	checkSecretMounted(t, spec, proxy, secretFile)

	// Probes: /readyz and /healthz on the metrics listener's port.
	metricsPort := port(t, env["AGENTCORE_PROXY_METRICS_LISTEN"])
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{name: "startupProbe", probe: proxy.StartupProbe, path: "/readyz"},
		{name: "readinessProbe", probe: proxy.ReadinessProbe, path: "/readyz"},
		{name: "livenessProbe", probe: proxy.LivenessProbe, path: "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("agentcore-proxy %s: want an httpGet probe on %s", p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("agentcore-proxy %s path = %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := resolvePort(t, proxy, p.probe.HTTPGet.Port.String()); got != metricsPort {
			t.Errorf("agentcore-proxy %s port %s = %s, want the --metrics-listen port %s", p.name, p.probe.HTTPGet.Port.String(), got, metricsPort)
		}
	}

	// Drain fits in the grace period.
	drain, err := time.ParseDuration(env["AGENTCORE_PROXY_DRAIN_TIMEOUT"])
	if err != nil {
		t.Fatalf("AGENTCORE_PROXY_DRAIN_TIMEOUT: %v", err)
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than the drain timeout %s", g, drain)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken = %v, want false (no container uses the API)", spec.AutomountServiceAccountToken)
	}
	if spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("serviceAccountName = %q, want %q", spec.ServiceAccountName, r.serviceAccount.Name)
	}
}

// resolvePort returns the number of a probe's port, named or numbered.
func resolvePort(t *testing.T, c corev1.Container, p string) string {
	t.Helper()
	for _, cp := range c.Ports {
		if cp.Name == p || fmt.Sprint(cp.ContainerPort) == p {
			return fmt.Sprint(cp.ContainerPort)
		}
	}
	t.Errorf("container %s has no port %q (ports %+v)", c.Name, p, c.Ports)
	return ""
}

func checkSecretMounted(t *testing.T, spec corev1.PodSpec, c corev1.Container, file string) {
	t.Helper()
	dir, base := path.Split(file)
	dir = strings.TrimSuffix(dir, "/")
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == dir {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("no volumeMount at %s for --client-secret-file=%s", dir, file)
	}
	if !mount.ReadOnly {
		t.Errorf("the secret volume is mounted read-write, want readOnly")
	}
	for _, v := range spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		if v.Secret == nil {
			t.Fatalf("volume %s is not a Secret volume", v.Name)
		}
		if len(v.Secret.Items) == 0 {
			return // every key becomes a file; the key name is the file name
		}
		for _, it := range v.Secret.Items {
			if it.Path == base {
				return
			}
		}
		t.Fatalf("Secret volume %s items %+v have no path %s", v.Name, v.Secret.Items, base)
	}
	t.Fatalf("no volume %s", mount.Name)
}

func TestKubernetesSecurityAndResources(t *testing.T) {
	d := render(t).deployment
	pod := d.Spec.Template.Spec.SecurityContext
	for _, c := range allContainers(d) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s: no securityContext", c.Name)
			continue
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil && pod != nil {
			nonRoot = pod.RunAsNonRoot
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil && pod != nil {
			seccomp = pod.SeccompProfile
		}
		for _, check := range []struct {
			what string
			ok   bool
		}{
			{what: "runAsNonRoot: true", ok: nonRoot != nil && *nonRoot},
			{what: "readOnlyRootFilesystem: true", ok: sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
			{what: "allowPrivilegeEscalation: false", ok: sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
			{what: "capabilities.drop: [ALL]", ok: sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0},
			{what: "seccompProfile.type: RuntimeDefault", ok: seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault},
			{what: "privileged unset or false", ok: sc.Privileged == nil || !*sc.Privileged},
			{what: "resources.requests cpu and memory", ok: !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero()},
			{what: "resources.limits memory", ok: !c.Resources.Limits.Memory().IsZero()},
		} {
			if !check.ok {
				t.Errorf("container %s: want %s", c.Name, check.what)
			}
		}
	}
	proxy := proxyContainer(t, d)
	if u := proxy.SecurityContext.RunAsUser; u == nil || *u != 65532 {
		t.Errorf("agentcore-proxy runAsUser = %v, want 65532 (the image's user)", u)
	}
	if pod == nil || pod.FSGroup == nil || *pod.FSGroup != 65532 {
		t.Errorf("pod fsGroup = %+v, want 65532 so the proxy can read the mounted secret", pod)
	}
}

func TestPodMonitor(t *testing.T) {
	r := render(t)
	pm := r.podMonitor
	labels := r.deployment.Spec.Template.Labels
	for k, v := range pm.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("PodMonitor selector %s=%s does not match the pod's labels %v", k, v, labels)
		}
	}
	if len(pm.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("PodMonitor selector is empty")
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("podMetricsEndpoints = %d, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	proxy := proxyContainer(t, r.deployment)
	if ep.Port == nil {
		t.Fatalf("PodMonitor endpoint has no port name")
	}
	if got, want := resolvePort(t, proxy, *ep.Port), port(t, r.configMap.Data["AGENTCORE_PROXY_METRICS_LISTEN"]); got != want {
		t.Errorf("PodMonitor port %s = %s, want the --metrics-listen port %s", *ep.Port, got, want)
	}
	if ep.Path != "/metrics" {
		t.Errorf("PodMonitor path = %q, want /metrics", ep.Path)
	}
	// The alerts in prometheus/ expect job="agentcore-proxy".
	if !slices.ContainsFunc(ep.RelabelConfigs, func(rc monitoringv1.RelabelConfig) bool {
		return rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == "agentcore-proxy"
	}) {
		t.Errorf("PodMonitor relabelings = %+v, want job set to agentcore-proxy", ep.RelabelConfigs)
	}
}
