package emulator

import (
	"encoding/xml"
	"net/http"
	"net/url"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// stsErrorCodes maps the verifier's codes to STS's query-protocol codes (documented for STS).
var stsErrorCodes = map[string]string{
	"InvalidSignatureException":   "SignatureDoesNotMatch",
	"UnrecognizedClientException": "InvalidClientTokenId",
	"ExpiredTokenException":       "ExpiredToken",
}

// serveSTS answers GetCallerIdentity and GetWebIdentityToken in the query protocol: a form body, an XML answer.
func (a *AWS) serveSTS(w http.ResponseWriter, r *http.Request, body []byte) {
	form, _ := url.ParseQuery(string(body))
	rec := AWSRequest{Service: "sts", Action: form.Get("Action")}
	defer func() { a.mu.Lock(); a.requests = append(a.requests, rec); a.mu.Unlock() }()
	v := sigv4Verifier{creds: a.creds, now: a.now}
	cred, serr := v.verify(r, body, "sts", a.cfg.Region)
	rec.AccessKey = cred.AccessKeyID
	if serr != nil {
		rec.Rejection = serr.reason
		code := serr.code
		if c, ok := stsErrorCodes[code]; ok {
			code = c
		}
		writeSTSError(w, serr.status, code, serr.message)
		return
	}
	if rec.Action == "GetWebIdentityToken" {
		a.getWebIdentityToken(w, cred, form, &rec)
		return
	}
	if rec.Action != "GetCallerIdentity" {
		rec.Rejection = "unknown_operation"
		writeSTSError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+rec.Action+" for version 2011-06-15")
		return
	}
	type result struct {
		Arn     string
		UserId  string
		Account string
	}
	writeSTSResult(w, "GetCallerIdentity", result{Arn: cred.ARN, UserId: cred.UserID, Account: a.cfg.AccountID})
}

// writeSTSResult writes a query-protocol answer: <ActionResponse> holding
// <ActionResult> and the request id.
func writeSTSResult(w http.ResponseWriter, action string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	enc := xml.NewEncoder(w)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: stsNamespace}}}
	enc.EncodeToken(start)
	enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	enc.EncodeElement(struct{ RequestId string }{w.Header().Get("X-Amzn-Requestid")}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	enc.EncodeToken(start.End())
	enc.Flush()
}

func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	type errBody struct {
		Type    string
		Code    string
		Message string
	}
	out := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		NS        string   `xml:"xmlns,attr"`
		Error     errBody
		RequestId string
	}{NS: stsNamespace, Error: errBody{"Sender", code, msg}, RequestId: w.Header().Get("X-Amzn-Requestid")}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	xml.NewEncoder(w).Encode(out)
}
