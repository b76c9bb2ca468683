package config

import (
	"go.yaml.in/yaml/v3"
)

// adminSection decodes the admin: section (the HTTP listener of metrics, the
// REST API and the dashboard) into f.Admin and checks it with
// admin.Config.Validate.
func (d *decoder) adminSection(path string, n *yaml.Node, f *File) {
	a := &f.Admin
	d.mapping(path, n, map[string]handler{
		"enabled": d.boolField(&a.Enabled),
		"address": func(path string, n *yaml.Node) {
			if v, ok := d.stringValue(path, n); ok {
				if err := CheckListenAddress(v); err != nil {
					d.fail(resolve(n), path, "%v", err)
					return
				}
				a.Address = v
			}
		},
		"token": d.stringField(&a.Token),
		"users": func(path string, n *yaml.Node) {
			n = resolve(n)
			if isNull(n) {
				return
			}
			if n.Kind != yaml.MappingNode {
				d.fail(n, path, "expected a mapping of user names to passwords, got %s", describe(n))
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := resolve(n.Content[i])
				name := join(path, k.Value)
				pw, ok := d.stringValue(name, n.Content[i+1])
				if !ok {
					continue
				}
				if a.Users == nil {
					a.Users = map[string]string{}
				}
				if _, dup := a.Users[k.Value]; dup {
					d.fail(k, name, "set twice")
					continue
				}
				a.Users[k.Value] = pw
			}
		},
		"websocket_url": d.stringField(&a.WebSocketURL),
		"session_ttl":   d.durationField(&a.SessionTTL),
	})
	if a.Enabled {
		if err := a.Validate(); err != nil {
			d.fail(resolve(n), path, "%v", err)
		}
	}
}
