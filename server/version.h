/* version.h - the release this tree builds. */
#ifndef AMTSBOTE_VERSION_H
#define AMTSBOTE_VERSION_H
#define AMTSBOTE_VERSION "0.1.0"
#endif
