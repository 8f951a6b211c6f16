/* export.h - `amtsbote -c CONFIG export-data USER_ID --output-directory DIR [--tar]`: one
 * user's data, for a GDPR/DSGVO access or portability request (Art. 15, 20). */
#ifndef AMTSBOTE_EXPORT_H
#define AMTSBOTE_EXPORT_H

/* The subcommand; argv[0] is "export-data". Prints what it wrote; returns the exit status
 * (0 done, 1 failed, 2 usage). */
int export_main(const char *config_path, int argc, char **argv);

#endif
