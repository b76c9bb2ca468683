package auth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/packet"
)

// PasswordFile authenticates CONNECT against a file of "username:hash"
// lines (see VerifyPassword for the hash formats; a Mosquitto password file
// is read as it is). Blank lines and lines starting with # are ignored. The
// file is re-read when it changes, without a restart.
//
// As a Chain member it answers NoOpinion for a client without a username,
// for a username that is not in the file, and for a client that proved its
// identity with a TLS certificate and sent no password, Allow for a right password and
// Deny (0x86) for a wrong, empty or missing one.
type PasswordFile struct {
	w watched[passwords]
}

type passwords struct {
	users map[string]string // username -> hash
}

// dummyHash is verified for unknown users so that a reply takes about as
// long whether or not the user exists.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("roost-dummy-password")
	return h
})

// LoadPasswordFile reads the password file at path. Errors name the line.
func LoadPasswordFile(path string, log *slog.Logger) (*PasswordFile, error) {
	p := &PasswordFile{w: watched[passwords]{path: path, parse: parsePasswords, log: log}}
	if err := p.w.load(); err != nil {
		return nil, err
	}
	return p, nil
}

func parsePasswords(data []byte) (*passwords, error) {
	p := &passwords{users: make(map[string]string)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want username:hash", n)
		}
		if err := checkHash(hash); err != nil {
			return nil, fmt.Errorf("line %d: user %q: %w", n, user, err)
		}
		if _, dup := p.users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q listed twice", n, user)
		}
		p.users[user] = hash
	}
	return p, sc.Err()
}

// Users returns how many users the file holds now.
func (p *PasswordFile) Users() int { return len(p.w.get().users) }

// Verify reports whether user is in the file and password is theirs. An
// empty password never matches, even when the file holds a hash of the empty
// string (mosquitto_passwd can write one): a client that sends no password,
// or an empty one, is refused as Mosquitto refuses it. The hash is still
// computed so that the reply takes as long.
func (p *PasswordFile) Verify(user string, password []byte) (known, ok bool) {
	hash, known := p.w.get().users[user]
	if !known {
		_, _ = VerifyPassword(dummyHash(), password)
		return false, false
	}
	ok, err := VerifyPassword(hash, password)
	return true, ok && err == nil && len(password) > 0
}

// CheckConnect implements ConnectChecker.
func (p *PasswordFile) CheckConnect(info *broker.ConnectInfo) (Result, error) {
	if info.Username == "" || info.AuthMethod != "" || (info.CertIdentity != "" && len(info.Password) == 0) {
		return NoOpinion, nil
	}
	known, ok := p.Verify(info.Username, info.Password)
	switch {
	case ok:
		return Allow, nil
	case known:
		return Deny, &packet.Error{Code: packet.BadUsernameOrPassword, Msg: "wrong password"}
	}
	return NoOpinion, nil
}

// ErrNoSuchUser is returned by DeleteUser for a user not in the file.
var ErrNoSuchUser = errors.New("no such user")

// SetPassword adds user to the password file at path, or replaces their
// hash, creating the file (mode 0600) if needed. Other lines are kept as
// they are. The file is replaced atomically.
func SetPassword(path, user, password string) error {
	if err := checkUsername(user); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return editFile(path, true, func(lines []string) ([]string, error) {
		for i, l := range lines {
			if u, _, ok := strings.Cut(l, ":"); ok && u == user && !strings.HasPrefix(l, "#") {
				lines[i] = user + ":" + hash
				return lines, nil
			}
		}
		return append(lines, user+":"+hash), nil
	})
}

// DeleteUser removes user from the password file at path.
func DeleteUser(path, user string) error {
	return editFile(path, false, func(lines []string) ([]string, error) {
		for i, l := range lines {
			if u, _, ok := strings.Cut(l, ":"); ok && u == user && !strings.HasPrefix(l, "#") {
				return append(lines[:i], lines[i+1:]...), nil
			}
		}
		return nil, fmt.Errorf("%s: %w: %q", path, ErrNoSuchUser, user)
	})
}

func checkUsername(user string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n") || strings.HasPrefix(user, "#") {
		return fmt.Errorf("username %q: must be non-empty, without ':' or line breaks, not starting with '#'", user)
	}
	return nil
}

// editFile rewrites the lines of a text file through edit, atomically.
func editFile(path string, create bool, edit func([]string) ([]string, error)) error {
	data, err := os.ReadFile(path)
	mode := os.FileMode(0o600)
	switch {
	case errors.Is(err, os.ErrNotExist) && create:
	case err != nil:
		return err
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	var lines []string
	if s := strings.TrimRight(string(data), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	if lines, err = edit(lines); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	out := strings.Join(lines, "\n")
	if out != "" {
		out += "\n"
	}
	if _, err := tmp.WriteString(out); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
