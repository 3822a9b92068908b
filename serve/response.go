package serve

import (
	"html"
	"strconv"
	"time"
)

// response is the state of the response being written on a connection.
type response struct {
	status     int
	origStatus int   // before an internal redirect
	bodyBytes  int64 // body bytes written (for the access log)
	headerSent bool  // the head has been appended or written
	chunked    bool  // the body is being sent with chunked coding
	noBody     bool  // HEAD, 204 or 304: the head only
	untilClose bool  // the body ends when the connection closes (HTTP/1.0 stream)
}

// reasons holds the reason phrase of every status pwebs sends.
var reasons = map[int]string{
	100: "Continue",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
	422: "Unprocessable Content", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}

// statusLines holds "HTTP/1.1 NNN Reason\r\n" for every status, built once.
var statusLines [600][]byte

// errorPages holds the small HTML body sent with each error status.
var errorPages [600][]byte

// errorPagesProduct are errorPages without the version, for
// server_tokens = "product".
var errorPagesProduct [600][]byte

// errorDetail is the sentence an error page adds under its title.
var errorDetail = map[int]string{
	400: "Your browser sent a request that this server could not understand.",
	403: "You don't have permission to access this resource.",
	404: "The requested URL was not found on this server.",
	405: "The requested method is not allowed for this URL.",
	408: "The server timed out waiting for the request.",
	411: "A request of the requested method requires a valid Content-Length.",
	412: "The precondition on the request evaluated to false.",
	413: "The request body is larger than this server accepts.",
	414: "The requested URL's length exceeds the capacity limit for this server.",
	416: "None of the requested ranges is satisfiable.",
	417: "The expectation given in the Expect request header could not be met.",
	431: "The request's header fields are larger than this server accepts.",
	500: "The server encountered an internal error and was unable to complete your request.",
	501: "The server does not support the action requested.",
	502: "The gateway received an invalid response.",
	503: "The server is temporarily unable to service your request. Please try again later.",
	504: "The gateway did not receive a timely response.",
	505: "The server does not support the HTTP version used in the request.",
}

func init() {
	for code := 100; code < 600; code++ {
		reason := reasons[code]
		if reason == "" {
			reason = "Status " + strconv.Itoa(code)
		}
		statusLines[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n")
		if code >= 400 {
			detail := errorDetail[code]
			if detail == "" {
				detail = reason + "."
			}
			errorPages[code] = []byte(errorPage(code, reason, detail, software("full")))
			errorPagesProduct[code] = []byte(errorPage(code, reason, detail, software("product")))
		}
	}
}

// errorPage renders the body of an error response.
func errorPage(code int, reason, detail, sw string) string {
	title := strconv.Itoa(code) + " " + html.EscapeString(reason)
	return "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
		"<title>" + title + "</title></head>\n<body>\n<h1>" + title + "</h1>\n<p>" +
		html.EscapeString(detail) + "</p>\n<hr>\n<address>" + sw + "</address>\n</body>\n</html>\n"
}

// Reason returns the reason phrase of status.
func Reason(status int) string {
	if r, ok := reasons[status]; ok {
		return r
	}
	return "Status " + strconv.Itoa(status)
}

// appendStatus starts a response head: status line, Date, Server and the
// configured headers (see startHead).
func (c *conn) appendStatus(status int) {
	c.startHead(status)
	c.appendExtraFields(nil)
}

// startHead appends the status line, Date and Server. The Date is the time
// the request arrived, as Apache dates a response by its request, or a
// later second another response already showed; the clock is read only
// for a response to no request (a 408 on a silent connection).
func (c *conn) startHead(status int) {
	now := c.firstByte
	if now.IsZero() {
		now = time.Now()
	}
	if status < 100 || status > 599 {
		status = 500
	}
	ed := c.errDoc.status != 0 && status == 200
	if ed {
		status = c.errDoc.status // an error page answers with its error
	}
	c.resp.status = status
	c.resp.headerSent = true
	c.headStart = len(c.wbuf)
	c.wbuf = append(c.wbuf, statusLines[status]...)
	c.wbuf = append(c.wbuf, c.srv.date.get(now)...)
	if ed && c.errDoc.name != "" {
		c.appendHeader(c.errDoc.name, c.errDoc.value)
	}
}

// appendHeader adds one header line.
func (c *conn) appendHeader(name, value string) {
	c.wbuf = append(c.wbuf, name...)
	c.wbuf = append(c.wbuf, ": "...)
	c.wbuf = append(c.wbuf, value...)
	c.wbuf = append(c.wbuf, "\r\n"...)
}

// appendContentLength adds a Content-Length line.
func (c *conn) appendContentLength(n int64) {
	c.wbuf = append(c.wbuf, "Content-Length: "...)
	c.wbuf = strconv.AppendInt(c.wbuf, n, 10)
	c.wbuf = append(c.wbuf, "\r\n"...)
}

// appendEndHead adds the Connection field as the request and the server's
// state decide it, and the empty line that ends the head.
func (c *conn) appendEndHead() {
	if c.srv.shuttingDown() || !c.bodyReader.keepable() {
		c.closeAfter = true
	}
	switch {
	case c.closeAfter:
		c.wbuf = append(c.wbuf, "Connection: close\r\n\r\n"...)
	case c.req.Minor == 0:
		c.wbuf = append(c.wbuf, "Connection: keep-alive\r\n\r\n"...)
	default:
		c.wbuf = append(c.wbuf, "\r\n"...)
	}
	if c.srv.keepRespHead() {
		c.respHead = append(c.respHead[:0], c.wbuf[c.headStart:]...)
	}
}

// writeError answers with an error page for status. It must be called
// before anything of the response was written.
func (c *conn) writeError(status int) {
	c.writeErrorWith(status, "", "")
}

// writeErrorWith answers with an error page and one extra header field
// (Allow, Retry-After, Content-Range...), if name is not empty: the site's
// own page for status (error_pages) when it has one, else the built-in.
func (c *conn) writeErrorWith(status int, name, value string) {
	if c.resp.headerSent {
		// Too late for a clean error: end the connection instead.
		c.closeAfter = true
		return
	}
	if status < 400 || status > 599 {
		status = 500
	}
	switch status {
	case 400, 408, 413, 414, 431, 501, 505:
		c.closeAfter = true
	}
	switch {
	case c.errDoc.status != 0:
		c.errorPageFailed(status)
		return
	case c.site != nil && c.site.errorPages != nil && c.serveErrorPage(status, name, value):
		return
	}
	c.writeErrorBody(status, name, value, "text/html; charset=utf-8", c.builtinPage(status))
}

// builtinPage is pwebs's own page for an error status.
func (c *conn) builtinPage(status int) []byte {
	if c.st.cfg.ServerTokens == "product" {
		return errorPagesProduct[status]
	}
	return errorPages[status]
}

// writeErrorBody answers status with body, of type typ, and one extra
// header field if name is not empty.
func (c *conn) writeErrorBody(status int, name, value, typ string, body []byte) {
	c.appendStatus(status)
	c.appendHeader("Content-Type", typ)
	c.appendContentLength(int64(len(body)))
	if name != "" {
		c.appendHeader(name, value)
	}
	c.appendEndHead()
	if c.req.method != mHEAD {
		c.wbuf = append(c.wbuf, body...)
		c.resp.bodyBytes = int64(len(body))
	}
}

// redirect answers 301 with Location.
func (c *conn) redirect(status int, location []byte) {
	body := "<!DOCTYPE html>\n<html lang=\"en\"><head><title>" + strconv.Itoa(status) + " " + Reason(status) +
		"</title></head>\n<body><h1>" + Reason(status) + "</h1>\n<p>The document has moved <a href=\"" +
		html.EscapeString(string(location)) + "\">here</a>.</p></body></html>\n"
	c.appendStatus(status)
	c.wbuf = append(c.wbuf, "Location: "...)
	c.wbuf = append(c.wbuf, location...)
	c.wbuf = append(c.wbuf, "\r\nContent-Type: text/html; charset=utf-8\r\n"...)
	c.appendContentLength(int64(len(body)))
	c.appendEndHead()
	if c.req.method != mHEAD {
		c.wbuf = append(c.wbuf, body...)
		c.resp.bodyBytes = int64(len(body))
	}
}
