// Server tests (placeholder until the server lands).

import Testing
