package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/roostmq/roost/auth"
)

type passwdFlags struct {
	delete, stdin, scram bool
	iterations           int
}

func newPasswdCmd(stdin io.Reader) *cobra.Command {
	var fl passwdFlags
	cmd := &cobra.Command{
		Use:   "passwd FILE USER",
		Short: "Add, update or delete a user in a password file",
		Long: "Add a user to a password file or change their password, creating the file\n" +
			"(mode 0600) if needed; -D deletes the user. The password is hashed with\n" +
			"argon2id (m=19456 KiB, t=2, p=1). Mosquitto password files can be edited too.\n" +
			"The password is read from the terminal without echo, twice, or from the\n" +
			"first line of standard input with --password-stdin.\n\n" +
			"With --scram the file is a SCRAM credentials file (auth.scram_file): the user\n" +
			"gets SCRAM-SHA-256 and SCRAM-SHA-512 salted keys, never the password.\n\n" +
			"A running broker sees the change within a second, without a restart.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return passwd(cmd.ErrOrStderr(), stdin, args[0], args[1], &fl)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&fl.delete, "delete", "D", false, "delete the user")
	f.BoolVar(&fl.stdin, "password-stdin", false, "read the password from the first line of standard input")
	f.BoolVar(&fl.scram, "scram", false, "write SCRAM credentials (for auth.scram_file) instead of a password hash")
	f.IntVar(&fl.iterations, "scram-iterations", 0, "PBKDF2 iterations for --scram (0: 600000 for SHA-256, 210000 for SHA-512; at least 4096)")
	return cmd
}

func passwd(stderr io.Writer, stdin io.Reader, file, user string, fl *passwdFlags) error {
	if fl.iterations != 0 && fl.iterations < 4096 {
		return usageErr(errors.New("--scram-iterations: at least 4096"))
	}
	if fl.delete {
		if fl.stdin {
			return usageErr(errors.New("--delete takes no password"))
		}
		del := auth.DeleteUser
		if fl.scram {
			del = auth.DeleteSCRAMCredentials
		}
		if err := del(file, user); err != nil {
			return runtimeErr(err)
		}
		fmt.Fprintf(stderr, "deleted %s from %s\n", user, file)
		return nil
	}
	pw, err := readPassword(stderr, stdin, fl.stdin)
	if err != nil {
		return usageErr(err)
	}
	if fl.scram {
		err = auth.SetSCRAMCredentials(file, user, pw, fl.iterations)
	} else {
		err = auth.SetPassword(file, user, pw)
	}
	if err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintf(stderr, "set the password of %s in %s\n", user, file)
	return nil
}

// readPassword reads from stdin (--password-stdin) or prompts twice on the
// terminal without echo.
func readPassword(stderr io.Writer, stdin io.Reader, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password on standard input")
		}
		return pw, nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: use --password-stdin")
	}
	fmt.Fprint(stderr, "Password: ")
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Reenter password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords do not match")
	}
	if len(a) == 0 {
		return "", errors.New("empty password")
	}
	return string(a), nil
}
