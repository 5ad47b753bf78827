package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AWSConfig describes the fake AWS services of StartAWS. The zero value is usable.
type AWSConfig struct {
	Region      string          // default "us-west-2"
	AccountID   string          // default "123456789012"
	Credentials []AWSCredential // default DefaultAWSCredential
	Parameters  []Parameter     // SSM Parameter Store
	Secrets     []Secret        // Secrets Manager
	Logger      *slog.Logger    // nil: discard

	// Runtimes are what bedrock-agentcore-control's GetAgentRuntime describes (control.go).
	Runtimes []ControlRuntime
}

// Parameter is an SSM parameter.
type Parameter struct {
	Name  string // full path, e.g. /app/mcp/demo/cognito_secret
	Type  string // String, StringList or SecureString
	Value string
}

// Secret is a Secrets Manager secret with a SecretString.
type Secret struct {
	Name         string // e.g. agentcore-proxy/client; the ARN is derived from it
	SecretString string // the secret itself, or JSON
}

// AWSRequest records one request the fake AWS host answered.
type AWSRequest struct {
	Service   string // ssm, secretsmanager, sts
	Action    string // e.g. GetParameter
	AccessKey string // the access key id that signed it, "" if none
	Rejection string // reason code, "" if served
}

// AWS is a running fake of SSM Parameter Store, Secrets Manager and STS on one loopback host: point
// the SDK at it with AWS_ENDPOINT_URL. Every request must carry a valid SigV4 signature for the
// service it calls, in the configured region, made with one of the configured credentials.
type AWS struct {
	cfg   AWSConfig
	log   *slog.Logger
	creds *credentialStore
	url   string
	srv   *http.Server
	wg    sync.WaitGroup

	mu         sync.Mutex // guards the fields below
	params     map[string]Parameter
	secrets    map[string]Secret
	versions   map[string]int
	runtimes   map[string]ControlRuntime
	kmsBroken  bool
	skew       time.Duration
	requests   []AWSRequest
	closeOnce  sync.Once
	closeError error
	done       chan struct{} // closed when shutdown starts

	federationOff bool             // GetWebIdentityToken refused (webidentity.go)
	webKeysOnce   sync.Once        // generates webKeys on first use
	webKeys       *webIdentityKeys // the web identity issuer's keys
}

// StartAWS listens on a kernel-chosen loopback port and serves the fakes until Close or ctx is done.
func StartAWS(ctx context.Context, cfg AWSConfig) (*AWS, error) {
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &AWS{cfg: cfg, log: cfg.Logger, creds: newCredentialStore(cfg.Credentials),
		params: map[string]Parameter{}, secrets: map[string]Secret{}, versions: map[string]int{}, done: make(chan struct{})}
	a.runtimes = map[string]ControlRuntime{}
	for _, rt := range cfg.Runtimes {
		a.runtimes[rt.ID] = rt
	}
	for _, p := range cfg.Parameters {
		a.params[p.Name] = p
	}
	for _, s := range cfg.Secrets {
		a.secrets[s.Name] = s
		a.versions[s.Name] = 1
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: listen for the AWS host: %w", err)
	}
	a.url = "http://" + ln.Addr().String()
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: serverReadHeaderTimeout,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("emulator AWS host stopped", "err", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		select {
		case <-ctx.Done():
			a.closeOnce.Do(a.shutdown)
		case <-a.done:
		}
	}()
	return a, nil
}

func (a *AWS) shutdown() {
	close(a.done)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.closeError = errors.Join(err, a.srv.Close())
	}
}

// Close stops the host and waits for its goroutines.
func (a *AWS) Close() error {
	a.closeOnce.Do(a.shutdown)
	a.wg.Wait()
	return a.closeError
}

// URL returns http://127.0.0.1:PORT, for AWS_ENDPOINT_URL.
func (a *AWS) URL() string { return a.url }

// Region returns the region the fakes expect in credential scopes.
func (a *AWS) Region() string { return a.cfg.Region }

// SetParameter creates or replaces an SSM parameter.
func (a *AWS) SetParameter(p Parameter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.params[p.Name] = p
}

// RotateSecret gives a secret a new SecretString, as a rotation does.
func (a *AWS) RotateSecret(name, secretString string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.secrets[name] = Secret{Name: name, SecretString: secretString}
	a.versions[name]++
}

// BreakKMS makes every SecureString undecryptable (the caller lacks kms:Decrypt on its key), or
// fixes that again.
func (a *AWS) BreakKMS(broken bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kmsBroken = broken
}

// SetClockSkew moves the fakes' clock by d, to test "Signature expired".
func (a *AWS) SetClockSkew(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.skew = d
}

// ExpireCredential makes requests signed with the access key get ExpiredToken(Exception).
func (a *AWS) ExpireCredential(accessKeyID string) { a.creds.expire(accessKeyID) }

// DenyActions replaces the IAM actions the access key's identity lacks, e.g. "ssm:GetParameter".
func (a *AWS) DenyActions(accessKeyID string, actions ...string) {
	a.creds.setDenied(accessKeyID, actions)
}

// Requests returns every request answered so far, in arrival order.
func (a *AWS) Requests() []AWSRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AWSRequest(nil), a.requests...)
}

func (a *AWS) now() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Now().Add(a.skew)
}

// serve dispatches on the protocol: JSON 1.1 by X-Amz-Target (SSM, Secrets Manager), query by the
// form's Action (STS); GETs go to the AgentCore control plane (restJson1).
func (a *AWS) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newUUID())
	if a.serveIssuer(w, r) {
		return
	}
	if r.Method == http.MethodGet {
		a.serveControl(w, r)
		return
	}
	body, err := readBody(r)
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	svc, action, _ := strings.Cut(target, ".")
	switch svc {
	case "AmazonSSM":
		a.serveJSON(w, r, body, "ssm", action, a.ssm)
	case "secretsmanager":
		a.serveJSON(w, r, body, "secretsmanager", action, a.secretsManager)
	default:
		a.serveSTS(w, r, body)
	}
}

// awsError is a service error of a JSON 1.1 fake.
type awsError struct {
	status        int
	code, message string
	reason        string
}

// jsonHandler answers one JSON 1.1 action for the signing identity.
type jsonHandler func(cred AWSCredential, action string, body []byte) (any, *awsError)

func (a *AWS) serveJSON(w http.ResponseWriter, r *http.Request, body []byte, service, action string, h jsonHandler) {
	rec := AWSRequest{Service: service, Action: action}
	defer func() { a.mu.Lock(); a.requests = append(a.requests, rec); a.mu.Unlock() }()
	v := sigv4Verifier{creds: a.creds, now: a.now}
	cred, serr := v.verify(r, body, service, a.cfg.Region)
	rec.AccessKey = cred.AccessKeyID
	if serr != nil {
		rec.Rejection = serr.reason
		writeAWSJSONError(w, serr.status, serr.code, serr.message)
		return
	}
	out, aerr := h(cred, action, body)
	if aerr != nil {
		rec.Rejection = aerr.reason
		writeAWSJSONError(w, aerr.status, aerr.code, aerr.message)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

// writeAWSJSONError writes the error body of the AWS JSON 1.1 protocol: {"__type", "message"}.
func writeAWSJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func deniedError(serr *sigv4Error) *awsError {
	if serr == nil {
		return nil
	}
	return &awsError{serr.status, serr.code, serr.message, serr.reason}
}

func badRequest(msg string) *awsError {
	return &awsError{http.StatusBadRequest, "ValidationException", msg, "validation"}
}
