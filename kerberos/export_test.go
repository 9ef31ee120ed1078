package kerberos

// SecretBytes returns the secret bytes c and m hold, for the tests that
// grep printed values for them: every ticket's encrypted part and session
// key, the authenticator's subkey, the security context's key.
func SecretBytes(c *Client, m *Mechanism) [][]byte {
	var out [][]byte
	add := func(t *ticket) {
		if t == nil {
			return
		}
		s := t.sec.get()
		out = append(out, s.tkt.EncPart.Cipher, s.key.KeyValue)
		if s.svc != nil {
			out = append(out, s.svc.DER)
		}
	}
	c.mu.Lock()
	add(c.tgt)
	for _, t := range c.tickets {
		add(t)
	}
	c.mu.Unlock()
	if m != nil {
		add(m.tkt)
		out = append(out, m.auth.get().SubKey.KeyValue)
	}
	return out
}
