import GRDB

/// The catalog schema, as frozen migrations: a migration is never edited once shipped; a
/// change is a new migration registered after the others. Each runs in one transaction.
///
/// Tables (ids are SQLite rowids; `AUTOINCREMENT` so a deleted id is never reused — an LMDB
/// key left behind by a crash can then never be mistaken for another image's code):
/// - images: one row per file (source root + path relative to it) and content digest.
///   A changed file (same path, new digest) gets a new row and id; the old row is deleted.
/// - collections: provenance, dim and count (done codes) of each collection.
/// - code_status: image × collection → 'pending' | 'done' (the write protocol's marks), so
///   several collections (layers) share one image row.
/// - runs + run_collections: extraction / import runs with counts.
/// - failures: images that could not be read, with the reason and the run.
/// - classifiers: trained models stored as opaque JSON by the Learning module's caller.
enum CatalogMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE images (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    path TEXT NOT NULL CHECK (path <> ''),
                    digest TEXT,
                    width INTEGER CHECK (width IS NULL OR width > 0),
                    height INTEGER CHECK (height IS NULL OR height > 0),
                    label TEXT,
                    split TEXT,
                    added TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                    UNIQUE (source, path)
                );
                CREATE INDEX images_digest ON images(digest);
                CREATE INDEX images_label ON images(label);

                CREATE TABLE collections (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
                    model_digest TEXT NOT NULL,
                    model_path TEXT NOT NULL,
                    layer TEXT NOT NULL,
                    preprocessing TEXT NOT NULL,
                    pooling TEXT NOT NULL,
                    relu INTEGER NOT NULL CHECK (relu IN (0, 1)),
                    dtype TEXT NOT NULL CHECK (dtype IN ('f32', 'f16')),
                    dim INTEGER NOT NULL CHECK (dim > 0),
                    count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
                    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                );

                CREATE TABLE code_status (
                    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
                    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
                    PRIMARY KEY (collection_id, image_id)
                ) WITHOUT ROWID;
                CREATE INDEX code_status_image ON code_status(image_id);

                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    command TEXT NOT NULL,
                    started TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                    finished TEXT,
                    done INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
                    skipped INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),
                    failed INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0)
                );
                CREATE TABLE run_collections (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                    PRIMARY KEY (run_id, collection_id)
                ) WITHOUT ROWID;

                CREATE TABLE failures (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
                    source TEXT NOT NULL,
                    path TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                );
                CREATE INDEX failures_run ON failures(run_id);

                CREATE TABLE classifiers (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE CHECK (length(name) >= 1),
                    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    model TEXT NOT NULL CHECK (json_valid(model)),
                    metrics TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
                    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                );
                """)
        }
        return migrator
    }
}
