package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// templateRoot caches initialised MariaDB data directories across labs:
// mariadb-install-db takes seconds, a copy takes milliseconds. It is outside
// any home directory because mariadbd --bootstrap runs as the lab user and
// must reach it.
const templateRoot = "/var/cache/vobox-lab"

// myCnf is a Database host's my.cnf. The instance is kept small (tens of
// MiB): tiny buffers, no performance_schema, socket only, no binary log.
func myCnf(datadir, logdir, socket, pidfile, errlog string) string {
	return fmt.Sprintf(`# vobox lab: a small MariaDB for a simulated DIRAC Database host.
[mysqld]
datadir = %s
innodb_log_group_home_dir = %s
socket = %s
pid-file = %s
log-error = %s
skip-networking
skip-name-resolve
performance_schema = OFF
innodb_buffer_pool_size = 8M
innodb_log_file_size = 4M
innodb_log_buffer_size = 2M
innodb_use_native_aio = 0
innodb_read_io_threads = 1
innodb_write_io_threads = 1
innodb_doublewrite = 0
innodb_flush_log_at_trx_commit = 2
key_buffer_size = 1M
aria_pagecache_buffer_size = 1M
query_cache_size = 0
table_open_cache = 64
table_definition_cache = 256
max_connections = 20
thread_cache_size = 2
thread_stack = 256K
tmp_table_size = 1M
max_heap_table_size = 1M
sort_buffer_size = 256K
host_cache_size = 0

[client]
socket = %s
`, datadir, logdir, socket, pidfile, errlog, socket)
}

// hostMyCnf is my.cnf as a host sees it.
func hostMyCnf() string {
	return myCnf("/opt/dirac/mysql/db", innodbLogPath, "/opt/dirac/mysql/mysql.sock",
		"/opt/dirac/mysql/db/mysql.pid", "/opt/dirac/mysql/db/mysqld.err")
}

// systemMyCnf is a --mysql system host's /etc/mysql/my.cnf: Debian's paths.
func systemMyCnf() string {
	return myCnf("/var/lib/mysql", "/var/lib/mysql", "/run/mysqld/mysqld.sock",
		"/run/mysqld/mysqld.pid", "/var/lib/mysql/mysqld.err")
}

// ensureMariaDBTemplate returns a folder holding db/ and log/ initialised by
// mariadb-install-db for the lab user, building it once per MariaDB version
// and configuration.
func ensureMariaDBTemplate(acct account, userName string) (string, error) {
	out, err := exec.Command("/usr/sbin/mariadbd", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("failed to run mariadbd --version: %w", err)
	}
	key := string(out) + hostMyCnf() + fmt.Sprint(acct.uid)
	if userName != labUser {
		key += userName + " lab-user 2"
	}
	sum := sha256.Sum256([]byte(key))
	final := filepath.Join(templateRoot, "mariadb-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(final, "db", "mysql")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(templateRoot, 0o755); err != nil {
		return "", fmt.Errorf("failed to create %s: %w", templateRoot, err)
	}
	unlock := lockFile(filepath.Join(templateRoot, ".lock"))
	defer unlock()
	if _, err := os.Stat(filepath.Join(final, "db", "mysql")); err == nil {
		return final, nil // built while we waited for the lock
	}
	tmp, err := os.MkdirTemp(templateRoot, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for _, d := range []string{"db", "log", "etc"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return "", err
		}
		if err := os.Chown(filepath.Join(tmp, d), acct.uid, acct.gid); err != nil {
			return "", err
		}
	}
	cnf := filepath.Join(tmp, "etc", "my.cnf")
	if err := os.WriteFile(cnf, []byte(myCnf(filepath.Join(tmp, "db"), filepath.Join(tmp, "log"),
		filepath.Join(tmp, "mysql.sock"), filepath.Join(tmp, "db", "mysql.pid"), filepath.Join(tmp, "db", "mysqld.err"))), 0o644); err != nil {
		return "", err
	}
	args := []string{"--defaults-file=" + cnf, "--user=" + userName,
		"--auth-root-authentication-method=socket", "--skip-test-db", "--datadir=" + filepath.Join(tmp, "db")}
	if userName != labUser {
		// A system MariaDB: the lab user logs in through the socket as
		// itself, so that "mysqladmin ping" answers cleanly.
		extra := filepath.Join(tmp, "etc", "lab-user.sql")
		// The bootstrap runs without grant tables, so no CREATE USER: the
		// row is written the way mariadb-install-db writes root's.
		sql := fmt.Sprintf("INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('localhost', '%s', "+
			"'{\"access\":0,\"plugin\":\"unix_socket\",\"authentication_string\":\"\"}');\n", labUser)
		if err := os.WriteFile(extra, []byte(sql), 0o644); err != nil {
			return "", err
		}
		args = append(args, "--extra-file="+extra)
	}
	cmd := exec.Command("/usr/bin/mariadb-install-db", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mariadb-install-db failed: %v\n%s", err, tail(string(out), 2000))
	}
	// The bootstrap's error log belongs to the template, not to the hosts.
	_ = os.Remove(filepath.Join(tmp, "db", "mysqld.err"))
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("failed to install the MariaDB template: %w", err)
	}
	return final, nil
}

// copyTree copies src to dst preserving modes and owners (cp -a), using
// reflinks where the filesystem has them.
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", "--reflink=auto", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
