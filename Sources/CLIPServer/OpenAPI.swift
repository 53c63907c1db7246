// The OpenAPI 3.1 document of every route, served at GET /openapi.json (CI runs schemathesis against it).

enum OpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {"title": "swift-clip server", "version": "0.3.0",
           "description": "OpenAI-compatible CLIP embeddings, zero-shot classification and image search. With API keys, every route but /health needs Authorization: Bearer KEY."},
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]},
                       "code": {"type": ["string", "null"]}, "request_id": {"type": "string"}}}}},
      "Model": {"type": "object", "required": ["id", "object", "created", "owned_by"],
        "properties": {"id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"},
                       "owned_by": {"type": "string"}, "embedding_dimension": {"type": "integer"},
                       "image_size": {"type": "integer"}, "context_length": {"type": "integer"}}},
      "EmbeddingInputItem": {"type": "object", "properties": {"text": {"type": "string"}, "image": {"type": "string"},
        "image_url": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"url": {"type": "string"}}}]}}}
    },
    "responses": {"Error": {"description": "An error in OpenAI's shape",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
  },
  "security": [{}, {"bearer": []}],
  "paths": {
    "/health": {"get": {"operationId": "health", "security": [{}], "responses": {
      "200": {"description": "Liveness and queue state", "content": {"application/json": {"schema": {"type": "object",
        "required": ["status", "model", "batching", "queue", "batches", "inputs"],
        "properties": {"status": {"const": "ok"}, "model": {"type": "string"}, "batching": {"type": "boolean"},
          "queue": {"type": "object", "properties": {"pending": {"type": "integer"}, "max": {"type": "integer"},
                                                     "rejected": {"type": "integer"}}},
          "batches": {"type": "integer"}, "inputs": {"type": "integer"}}}}}},
      "default": {"$ref": "#/components/responses/Error"}}}},
    "/v1/models": {"get": {"operationId": "listModels", "responses": {
      "200": {"description": "The one model", "content": {"application/json": {"schema": {"type": "object",
        "required": ["object", "data"], "properties": {"object": {"const": "list"},
          "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}}}}},
      "default": {"$ref": "#/components/responses/Error"}}}},
    "/v1/models/{id}": {"get": {"operationId": "getModel",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "The model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}},
                    "default": {"$ref": "#/components/responses/Error"}}}},
    "/v1/embeddings": {"post": {"operationId": "createEmbeddings",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["input"],
        "properties": {"model": {"type": ["string", "null"]},
          "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}},
                              {"type": "array", "items": {"$ref": "#/components/schemas/EmbeddingInputItem"}}]},
          "encoding_format": {"enum": ["float", "base64", null]}, "dimensions": {"type": ["integer", "null"]}}}}}},
      "responses": {"200": {"description": "L2-normalised embeddings", "content": {"application/json": {"schema": {"type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {"object": {"const": "list"}, "model": {"type": "string"},
          "data": {"type": "array", "items": {"type": "object", "required": ["object", "index", "embedding"],
            "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"},
              "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]}}}},
          "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}}}}},
        "default": {"$ref": "#/components/responses/Error"}}}},
    "/v1/classify": {"post": {"operationId": "classify",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["image", "labels"],
        "properties": {"model": {"type": ["string", "null"]}, "image": {"type": "string"},
          "labels": {"type": "array", "items": {"type": "string"}, "minItems": 1},
          "template": {"type": ["string", "null"]}, "top_k": {"type": ["integer", "null"], "minimum": 1}}}}}},
      "responses": {"200": {"description": "Labels by probability", "content": {"application/json": {"schema": {"type": "object",
        "required": ["object", "data"], "properties": {"object": {"const": "list"}, "model": {"type": "string"},
          "data": {"type": "array", "items": {"type": "object", "required": ["label", "score"],
            "properties": {"label": {"type": "string"}, "score": {"type": "number"}}}}}}}}},
        "default": {"$ref": "#/components/responses/Error"}}}},
    "/v1/search": {"post": {"operationId": "search",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
        "properties": {"model": {"type": ["string", "null"]}, "query": {"type": ["string", "null"]}, "image": {"type": ["string", "null"]},
          "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000},
          "filter": {"type": ["object", "null"], "properties": {"prefix": {"type": "string"}, "glob": {"type": "string"}}}}}}}},
      "responses": {"200": {"description": "Best matches (needs clip serve --index)", "content": {"application/json": {"schema": {"type": "object",
        "required": ["object", "data"], "properties": {"object": {"const": "list"}, "model": {"type": "string"},
          "data": {"type": "array", "items": {"type": "object", "required": ["path", "score"],
            "properties": {"path": {"type": "string"}, "score": {"type": "number"}}}}}}}}},
        "default": {"$ref": "#/components/responses/Error"}}}},
    "/metrics": {"get": {"operationId": "metrics", "responses": {
      "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
      "default": {"$ref": "#/components/responses/Error"}}}},
    "/openapi.json": {"get": {"operationId": "openapi", "responses": {
      "200": {"description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}},
      "default": {"$ref": "#/components/responses/Error"}}}}
  }
}
"""#
}
