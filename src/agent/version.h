#ifndef RM_AGENT_VERSION_H
#define RM_AGENT_VERSION_H
/* The agent's version string, defined in ONE object (version.c) so that a build differing
 * only in its version (the update tests' "version B") relinks one file. */
extern const char rm_agent_version[];

#endif
