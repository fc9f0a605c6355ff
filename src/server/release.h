#ifndef RM_SERVER_RELEASE_H
#define RM_SERVER_RELEASE_H
/* Offline release signing (C6 agent updates; docs/deployment.md "Release signing"):
 *
 *   restic-manager-server release-key --generate DIR
 *       writes DIR/agent-release.key (0600, base64 Ed25519 secret key) and
 *       DIR/agent-release.pub (base64 public key); refuses to overwrite either.
 *   restic-manager-server sign-agent --key FILE --version V [--os linux] [--arch A] BINARY
 *       writes BINARY.manifest (version, os, arch, size, sha256) and BINARY.manifest.sig.
 *
 * The running server never needs the secret key: it only serves what was signed. */

/* Runs the subcommand named by argv[1] when it is one of the above and returns its exit
 * code; returns -1 when argv[1] is something else. */
int release_tool_main(int argc, char **argv);

#endif
