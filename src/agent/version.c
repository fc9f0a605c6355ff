/* The agent's version (see version.h); RM_VERSION comes from the Makefile (VERSION file). */
#include "agent/version.h"

#ifndef RM_VERSION
#define RM_VERSION "0.0.0"
#endif

const char rm_agent_version[] = RM_VERSION;
