@testable import Imaging

/// Test access to the internal resize (no crop, or one window).
enum PILResizeAccess {
    static func resize(_ image: DecodedImage, box: (Float, Float, Float, Float), width: Int, height: Int,
                       crop: (x: Int, y: Int, width: Int, height: Int)? = nil) -> [UInt8] {
        let window = crop ?? (0, 0, width, height)
        return PILResize.resizeAndCrop(image, box: box, outWidth: width, outHeight: height,
                                       cropX: window.x, cropY: window.y, cropWidth: window.width, cropHeight: window.height)
    }
}

/// Test access to the internal EXIF transform.
enum OrientationAccess {
    static func apply(_ orientation: Int, to image: DecodedImage) -> DecodedImage? {
        EXIFOrientation(rawValue: orientation).map { image.applying($0) }
    }
}
