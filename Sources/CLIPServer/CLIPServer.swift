// The OpenAI-compatible HTTP API (placeholder until the server lands).

import CLIPZeroShot
