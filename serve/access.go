package serve

// logRequest records the answered request in the access log.
func (c *conn) logRequest() {}
