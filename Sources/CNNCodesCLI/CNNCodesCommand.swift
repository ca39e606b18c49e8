import ArgumentParser

/// The `cnncodes` command: one subcommand per job. Each subcommand lives in its own file
/// under `Commands/` and only orchestrates the library modules; it holds no logic of its own.
public struct CNNCodesCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cnncodes",
        abstract: "Extract, store, classify and search CNN codes of your images.",
        discussion: """
            CNN codes are the activations of one layer of a pretrained network (e.g. the pooled \
            penultimate layer), ReLU'd. cnncodes extracts them from folders of images with any \
            ONNX model, keeps them in a store (LMDB + SQLite), trains linear classifiers on them \
            and answers similarity queries.
            """,
        version: "0.1.0",
        subcommands: [
            CNNCodesCommand.subcommandList
        ].flatMap { $0 }
    )

    public init() {}
}

extension CNNCodesCommand {
    /// Every subcommand, in the order `--help` lists them. Add new commands here.
    static var subcommandList: [ParsableCommand.Type] {
        [
            InspectCommand.self,
            ForwardCommand.self,
            PreprocessCommand.self,
            ExtractCommand.self,
            InfoCommand.self,
            FailuresCommand.self,
            ExportCommand.self,
            ImportCommand.self,
            VerifyCommand.self,
            TrainCommand.self,
            EvaluateCommand.self,
            PredictCommand.self,
            SearchCommand.self,
            IndexCommand.self,
            ServeCommand.self,
            NPYInfoCommand.self,
            // Hidden: drivers for benchmarks/.
            FitNPYCommand.self,
            SearchNPYCommand.self,
            PreprocessBenchmarkCommand.self,
        ]
    }
}
