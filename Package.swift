// swift-tools-version:6.0
// cnncodes — a feature store and retrieval service for CNN codes.
// Module graph and its rationale: README.md ("Architecture") and ../shared/DESIGN.md.
import PackageDescription

/// Compute modules (kernels, solvers, indexes) are compiled with optimization even in debug
/// builds: an unoptimized conv or HNSW loop is 20–100× slower, which would make the
/// conformance tests on real networks take hours in `swift test`. Exclusivity checks are
/// dropped for the same reason: the hot loops use unsafe pointers whose aliasing is
/// documented where they are created.
let computeSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "cnncodes",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cnncodes", targets: ["cnncodes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // System-library shims: module maps only, the libraries come from Debian -dev packages
        // (scripts/setup installs them).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        // libpng reports errors by longjmp, so CPNG is a small C target whose functions own
        // the setjmp (Sources/CPNG/cpng.c); Swift never calls libpng directly.
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png16")]),
        // The engine's SIMD kernels in C, compiled per function for AVX2+FMA and dispatched at
        // run time (Sources/CKernels/include/ck_cpu.h says why C and why run-time dispatch).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // Generated from onnx.proto by tools/generate-onnx-proto (committed; do not edit).
        .target(
            name: "ONNXProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),

        // Dense float32 tensors, .npy I/O, the BLAS calls (and the choice of OpenBLAS's kernels).
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: computeSettings),

        // ONNX model → graph IR → load-time passes → planned executor; kernels in Kernels/.
        .target(
            name: "Inference",
            dependencies: ["Tensor", "ONNXProto", "CBLAS", "CKernels"],
            swiftSettings: computeSettings
        ),

        // Image files → decoded RGB → preprocessed model input.
        .target(
            name: "Imaging",
            dependencies: ["Tensor", "CTurboJPEG", "CPNG"],
            swiftSettings: computeSettings
        ),

        // A store: catalog.sqlite (GRDB) + codes.lmdb (LMDB).
        .target(
            name: "Store",
            dependencies: ["CLMDB", "Tensor", .product(name: "GRDB", package: "GRDB.swift")]
        ),

        // Linear SVM, softmax regression, cross-validation, metrics — on matrices, no I/O.
        .target(name: "Learning", dependencies: ["Tensor", "CBLAS"], swiftSettings: computeSettings),

        // Exact k-NN (blocked GEMM + top-k) and HNSW — on matrices; persisted index files.
        .target(name: "Search", dependencies: ["Tensor", "CBLAS", "CKernels"], swiftSettings: computeSettings),

        // The batch pipeline: scan → decode/preprocess → forward → ReLU/pool → store.
        .target(
            name: "Extraction",
            dependencies: [
                "Imaging", "Inference", "Store", "Tensor",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Use cases that combine modules — train/evaluate/apply a classifier on a collection,
        // search a collection (exact or its HNSW index) — shared by the CLI and the service so
        // neither holds logic of its own.
        .target(
            name: "Workflows",
            dependencies: ["Tensor", "Store", "Learning", "Search", "Extraction", "Imaging"]
        ),

        // The HTTP API and web page (Hummingbird 2); answers through a `ServiceBackend`.
        .target(
            name: "Service",
            dependencies: [
                "Tensor", "Store", "Search", "Learning", "Extraction", "Imaging", "Inference", "Workflows",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The commands (a library, so tests can drive them and check help texts).
        .target(
            name: "CNNCodesCLI",
            dependencies: [
                "Tensor", "Inference", "Imaging", "Store", "Extraction", "Learning", "Search", "Workflows", "Service",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "cnncodes", dependencies: ["CNNCodesCLI", "Tensor"]),

        // Test helpers: repository paths, ../shared lookup with skip, temporary directories, the
        // instruction-set paths of the C kernels.
        .target(name: "TestSupport", dependencies: ["Tensor", "CKernels"], path: "Tests/TestSupport"),

        // One test target per module.
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Tensor", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Tensor", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Tensor", "TestSupport"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "Tensor", "TestSupport"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Tensor", "TestSupport"]),
        .testTarget(name: "ExtractionTests", dependencies: ["Extraction", "Store", "Imaging", "Tensor", "TestSupport"]),
        .testTarget(name: "WorkflowsTests", dependencies: ["Workflows", "Store", "Learning", "Search", "TestSupport"]),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "CLITests", dependencies: ["CNNCodesCLI", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
