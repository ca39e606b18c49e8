/// The OpenAPI 3 description of the API, served at /openapi.yaml. Hand-written: keep it in
/// step with ServiceRoutes.swift and ServiceModels.swift (a test checks that every route,
/// method and error status is in it).
enum OpenAPIDocument {
    static let yaml = #"""
        openapi: 3.0.3
        info:
          title: cnncodes
          version: 0.1.0
          description: |
            Search, classify and ingest images by their CNN codes (activations of one layer of a
            pretrained network) kept in a cnncodes store. Every error is a JSON body
            {"error": {"status": <code>, "message": "<why>"}}. When the server runs with a token,
            every endpoint except the page at / needs `Authorization: Bearer <token>`.
        servers:
          - url: /
        security:
          - bearer: []
        paths:
          /v1/health:
            get:
              summary: Whether the server and its store answer.
              responses:
                '200':
                  description: The store's path and mode.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Health'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /v1/collections:
            get:
              summary: Every collection with its count and provenance.
              responses:
                '200':
                  description: The collections, by name.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          collections:
                            type: array
                            items: {$ref: '#/components/schemas/CollectionSummary'}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /v1/collections/{name}:
            get:
              summary: One collection with provenance, counts per label and split, and its classifiers.
              parameters:
                - {$ref: '#/components/parameters/CollectionName'}
              responses:
                '200':
                  description: The collection.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/CollectionDetail'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
          /v1/collections/{name}/images:
            get:
              summary: A page of the images with a code in the collection, by ascending id.
              parameters:
                - {$ref: '#/components/parameters/CollectionName'}
                - {name: label, in: query, schema: {type: string}}
                - {name: split, in: query, schema: {type: string}}
                - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
                - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
              responses:
                '200':
                  description: The page and the total matching.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/ImageList'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
            post:
              summary: Ingest an uploaded image into the collection.
              description: |
                The body is the raw image (JPEG or PNG). Its code is extracted with the collection's
                recorded provenance (model, layer, preprocessing, pooling, ReLU) and stored; the file
                is kept in the store's uploads folder under its SHA-256. The same bytes twice store
                one image (200, stored false). Needs a store opened read-write.
              parameters:
                - {$ref: '#/components/parameters/CollectionName'}
                - {name: label, in: query, schema: {type: string}}
                - {name: split, in: query, schema: {type: string}}
                - {$ref: '#/components/parameters/FileName'}
              requestBody: {$ref: '#/components/requestBodies/Image'}
              responses:
                '201':
                  description: Stored.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/IngestResult'}
                '200':
                  description: Already stored (nothing written).
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/IngestResult'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
                '409': {$ref: '#/components/responses/Conflict'}
                '413': {$ref: '#/components/responses/TooLarge'}
                '501': {$ref: '#/components/responses/NotImplemented'}
          /v1/collections/{name}/search:
            post:
              summary: The k nearest codes to a stored image's code or to a vector.
              parameters:
                - {$ref: '#/components/parameters/CollectionName'}
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/SearchRequest'}
              responses:
                '200': {$ref: '#/components/responses/SearchHits'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
                '413': {$ref: '#/components/responses/TooLarge'}
          /v1/collections/{name}/search/image:
            post:
              summary: The k nearest codes to an uploaded image's code.
              parameters:
                - {$ref: '#/components/parameters/CollectionName'}
                - {name: k, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 10}}
                - {name: metric, in: query, schema: {$ref: '#/components/schemas/Metric'}}
                - {name: label, in: query, schema: {type: string}}
                - {name: split, in: query, schema: {type: string}}
                - {name: exact, in: query, schema: {type: boolean, default: false}}
                - {name: ef, in: query, schema: {type: integer, minimum: 1, maximum: 10000}}
                - {$ref: '#/components/parameters/FileName'}
              requestBody: {$ref: '#/components/requestBodies/Image'}
              responses:
                '200': {$ref: '#/components/responses/SearchHits'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
                '413': {$ref: '#/components/responses/TooLarge'}
                '501': {$ref: '#/components/responses/NotImplemented'}
          /v1/images/{id}:
            get:
              summary: An image's catalog row and the collections holding its code.
              parameters:
                - {$ref: '#/components/parameters/ImageID'}
              responses:
                '200':
                  description: The image.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Image'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
          /v1/images/{id}/file:
            get:
              summary: The image file (thumbnail source). Only images registered in the catalog are served.
              parameters:
                - {$ref: '#/components/parameters/ImageID'}
              responses:
                '200':
                  description: The file's bytes, with its type sniffed from the content.
                  content:
                    image/jpeg: {schema: {type: string, format: binary}}
                    image/png: {schema: {type: string, format: binary}}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
          /v1/classifiers/{name}/classify:
            post:
              summary: Classify an uploaded image with a stored classifier.
              parameters:
                - {$ref: '#/components/parameters/ClassifierName'}
                - {$ref: '#/components/parameters/FileName'}
              requestBody: {$ref: '#/components/requestBodies/Image'}
              responses:
                '200': {$ref: '#/components/responses/Classified'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
                '413': {$ref: '#/components/responses/TooLarge'}
                '501': {$ref: '#/components/responses/NotImplemented'}
          /v1/classifiers/{name}/classify/{id}:
            get:
              summary: Classify a stored image's code with a stored classifier.
              parameters:
                - {$ref: '#/components/parameters/ClassifierName'}
                - {$ref: '#/components/parameters/ImageID'}
              responses:
                '200': {$ref: '#/components/responses/Classified'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '404': {$ref: '#/components/responses/NotFound'}
          /metrics:
            get:
              summary: Prometheus metrics (requests by route and status, latency histogram, codes per collection).
              responses:
                '200':
                  description: Text exposition format 0.0.4.
                  content:
                    text/plain: {schema: {type: string}}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /openapi.yaml:
            get:
              summary: This document.
              responses:
                '200':
                  description: OpenAPI 3 YAML.
                  content:
                    application/yaml: {schema: {type: string}}
                '401': {$ref: '#/components/responses/Unauthorized'}
          /:
            get:
              summary: The web page (static HTML; needs no token, asks for one when the API does).
              security: []
              responses:
                '200':
                  description: HTML.
                  content:
                    text/html: {schema: {type: string}}
        components:
          securitySchemes:
            bearer: {type: http, scheme: bearer}
          parameters:
            CollectionName: {name: name, in: path, required: true, schema: {type: string, pattern: '^[A-Za-z0-9._-]{1,100}$'}}
            ClassifierName: {name: name, in: path, required: true, schema: {type: string}}
            ImageID: {name: id, in: path, required: true, schema: {type: integer, format: int64}}
            FileName: {name: filename, in: query, description: 'The upload''s name (for messages and the catalog).', schema: {type: string}}
          requestBodies:
            Image:
              required: true
              description: The image (JPEG or PNG; the format is sniffed from the content) as the raw body, or as the file part of a multipart form; at most the server's upload limit (20 MB by default).
              content:
                image/jpeg: {schema: {type: string, format: binary}}
                image/png: {schema: {type: string, format: binary}}
                application/octet-stream: {schema: {type: string, format: binary}}
                multipart/form-data:
                  schema:
                    type: object
                    properties:
                      image: {type: string, format: binary, description: 'the first part with a filename (or named image or file) is the upload'}
          responses:
            # Successes shared by several routes.
            SearchHits:
              description: The hits, best first.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/SearchResult'}
            Classified:
              description: The predicted label and every class's score.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Classification'}
            # Errors: the body is always the Error schema.
            BadRequest:
              description: Malformed JSON, an invalid parameter, a vector of the wrong length, or bytes that are not a decodable image (the message says why).
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            Unauthorized:
              description: A token is required and was missing or wrong.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            NotFound:
              description: Unknown collection, classifier, image id, code, or route.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            Conflict:
              description: The store is open read-only; ingestion is disabled.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            TooLarge:
              description: The body exceeds the upload limit.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            NotImplemented:
              description: The server has no image-to-code extractor; search by id or vector instead.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error:
                  type: object
                  required: [status, message]
                  properties:
                    status: {type: integer}
                    message: {type: string}
            Metric:
              type: string
              enum: [cosine, ip, l2]
              default: cosine
              description: cosine similarity or inner product (higher is better), or squared Euclidean distance (lower is better).
            Health:
              type: object
              properties:
                status: {type: string, enum: [ok]}
                store: {type: string}
                readOnly: {type: boolean}
                collections: {type: integer}
                version: {type: string}
            Provenance:
              type: object
              properties:
                modelDigest: {type: string}
                modelPath: {type: string}
                layer: {type: string}
                preprocessing: {type: string, description: 'canonical preprocessing JSON'}
                pooling: {type: string, enum: [avg, max, none]}
                relu: {type: boolean}
                dtype: {type: string, enum: [f32, f16]}
            CollectionSummary:
              type: object
              properties:
                name: {type: string}
                dim: {type: integer}
                count: {type: integer}
                provenance: {$ref: '#/components/schemas/Provenance'}
                hnswIndex: {type: array, items: {$ref: '#/components/schemas/Metric'}, description: 'metrics with an HNSW index file'}
            CollectionDetail:
              type: object
              properties:
                name: {type: string}
                dim: {type: integer}
                count: {type: integer}
                pending: {type: integer}
                created: {type: string}
                provenance: {$ref: '#/components/schemas/Provenance'}
                labels: {type: object, additionalProperties: {type: integer}, description: 'codes per label ("" = none)'}
                splits: {type: object, additionalProperties: {type: integer}, description: 'codes per split ("" = none)'}
                classifiers: {type: array, items: {type: string}}
                hnswIndex: {type: array, items: {$ref: '#/components/schemas/Metric'}, description: 'metrics with an HNSW index file'}
                acceptsImages: {type: boolean, description: 'whether image uploads can be searched, classified and ingested'}
            ImageList:
              type: object
              properties:
                collection: {type: string}
                total: {type: integer}
                offset: {type: integer}
                images:
                  type: array
                  items:
                    type: object
                    properties:
                      id: {type: integer, format: int64}
                      path: {type: string}
                      label: {type: string}
                      split: {type: string}
            Image:
              type: object
              properties:
                id: {type: integer, format: int64}
                path: {type: string}
                digest: {type: string}
                width: {type: integer}
                height: {type: integer}
                label: {type: string}
                split: {type: string}
                added: {type: string}
                collections: {type: array, items: {type: string}}
            SearchRequest:
              type: object
              description: Exactly one of id and vector.
              properties:
                id: {type: integer, format: int64, description: 'a stored image whose code is the query'}
                vector: {type: array, items: {type: number}, description: 'a query of the collection''s dimension'}
                k: {type: integer, minimum: 1, maximum: 1000, default: 10}
                metric: {$ref: '#/components/schemas/Metric'}
                filter:
                  type: object
                  properties:
                    label: {type: string}
                    split: {type: string}
                exact: {type: boolean, default: false, description: 'search exactly even when an HNSW index exists'}
                ef: {type: integer, minimum: 1, maximum: 10000, description: 'HNSW candidate list size'}
            SearchResult:
              type: object
              properties:
                collection: {type: string}
                metric: {$ref: '#/components/schemas/Metric'}
                method: {type: string, enum: [exact, hnsw]}
                k: {type: integer}
                queryID: {type: integer, format: int64}
                searched: {type: integer, description: 'codes the filter allowed'}
                hits:
                  type: array
                  items:
                    type: object
                    properties:
                      id: {type: integer, format: int64}
                      score: {type: number}
                      label: {type: string}
                      split: {type: string}
                      path: {type: string}
            Classification:
              type: object
              properties:
                classifier: {type: string}
                collection: {type: string}
                kind: {type: string, enum: [svm, softmax]}
                imageID: {type: integer, format: int64}
                label: {type: string}
                scores:
                  type: array
                  description: every class, best first
                  items:
                    type: object
                    properties:
                      label: {type: string}
                      score: {type: number}
                      probability: {type: number, description: 'softmax models only'}
            IngestResult:
              type: object
              properties:
                id: {type: integer, format: int64}
                collection: {type: string}
                path: {type: string}
                digest: {type: string}
                width: {type: integer}
                height: {type: integer}
                label: {type: string}
                split: {type: string}
                stored: {type: boolean}
        """#
}
