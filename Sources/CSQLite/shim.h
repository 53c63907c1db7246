// SQLite's C API (Debian: libsqlite3-dev), for the search index.
#include <sqlite3.h>
