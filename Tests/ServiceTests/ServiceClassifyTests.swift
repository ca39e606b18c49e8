import Foundation
import Hummingbird
import HummingbirdTesting
import Learning
@testable import Service
import Store
import TestSupport
import XCTest

/// Classification of stored codes with a classifier trained and saved in the fixture store.
final class ServiceClassifyTests: ServiceTestCase {
    func testClassifyStoredIDs() async throws {
        let fixture = try ServiceFixture(testCase: self)
        // The reference: the same stored model applied in-process.
        let model = try LinearClassifier.fromJSON(Data(try fixture.store.classifier(named: "colors-softmax").modelJSON.utf8))
        try await withServer(StoreBackend(store: fixture.store)) { client in
            for id in [fixture.ids[0], fixture.ids[21], fixture.ids[59]] {
                let answer = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify/\(id)", method: .get)
                    .decode(ClassificationResponse.self)
                let code = fixture.codeOf[id]!
                let probabilities = try model.predictProbabilities(code, rows: 1)
                let predicted = try model.predict(code, rows: 1)[0]
                XCTAssertEqual(answer.label, model.classes[predicted])
                XCTAssertEqual(answer.label, fixture.labelOf[id])
                XCTAssertEqual(answer.imageID, id)
                XCTAssertEqual(answer.kind, "softmax")
                XCTAssertEqual(answer.collection, "colors")
                XCTAssertEqual(answer.scores.count, 3)
                XCTAssertEqual(answer.scores.map(\.score), answer.scores.map(\.score).sorted(by: >))
                for score in answer.scores {
                    let c = model.classes.firstIndex(of: score.label)!
                    XCTAssertEqual(score.probability ?? -1, probabilities[c], accuracy: 1e-6)
                }
            }
            var message = try await client.execute(uri: "/v1/classifiers/nope/classify/1", method: .get).errorMessage(404)
            XCTAssertTrue(message.contains("nope"), message)
            message = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify/777777", method: .get).errorMessage(404)
            XCTAssertTrue(message.contains("777777"), message)
            _ = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify/x", method: .get).errorMessage(400)
        }
    }
}
