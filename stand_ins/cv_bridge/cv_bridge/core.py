# Stand-in for ROS 2 cv_bridge.core (Python CvBridge subset), used only where the real package is missing; see stand_ins/README.md
"""Pure-Python CvBridge: sensor_msgs/Image <-> numpy arrays.

Follows cv_bridge's Python core.py (Humble 3.2.x / Rolling) and the C++ rules it calls (getCvType,
getConversionCode, cvtColor); written from the documented behaviour, not copied. Needs no Boost
extension, so it imports under NumPy 2; where upstream's Python misreads a message (a ``step`` that is
not a multiple of the pixel size) or fails under NumPy 2 (a non-host byte order), this does the same.
"""

import re
import sys

import numpy as np
import sensor_msgs.msg

__all__ = ['CvBridge', 'CvBridgeError']


class CvBridgeError(TypeError):
    """Raised by CvBridge methods when a conversion is not possible (a TypeError, as upstream)."""


# OpenCV depth name <-> numpy dtype
_DEPTH_TO_DTYPE = {'8U': 'uint8', '8S': 'int8', '16U': 'uint16', '16S': 'int16',
                   '32S': 'int32', '32F': 'float32', '64F': 'float64'}
_DTYPE_TO_DEPTH = {v: k for k, v in _DEPTH_TO_DTYPE.items()}

# named encodings (sensor_msgs/image_encodings.hpp) -> (depth, channels)
_NAMED = {
    'rgb8': ('8U', 3), 'bgr8': ('8U', 3), 'rgba8': ('8U', 4), 'bgra8': ('8U', 4),
    'rgb16': ('16U', 3), 'bgr16': ('16U', 3), 'rgba16': ('16U', 4), 'bgra16': ('16U', 4),
    'mono8': ('8U', 1), 'mono16': ('16U', 1),
    'bayer_rggb8': ('8U', 1), 'bayer_bggr8': ('8U', 1), 'bayer_gbrg8': ('8U', 1), 'bayer_grbg8': ('8U', 1),
    'bayer_rggb16': ('16U', 1), 'bayer_bggr16': ('16U', 1), 'bayer_gbrg16': ('16U', 1),
    'bayer_grbg16': ('16U', 1),
    'yuv422': ('8U', 2), 'yuv422_yuy2': ('8U', 2),
}
_COLOR = {'rgb8', 'bgr8', 'rgba8', 'bgra8', 'rgb16', 'bgr16', 'rgba16', 'bgra16'}
_MONO = {'mono8', 'mono16'}
_GENERIC = re.compile(r'(8U|8S|16U|16S|32S|32F|64F)(?:C([0-9]+))?')
# colour "family" used for cvtColor codes (C++ getEncoding)
_FAMILY = {'mono8': 'GRAY', 'mono16': 'GRAY', 'rgb8': 'RGB', 'rgb16': 'RGB', 'bgr8': 'BGR', 'bgr16': 'BGR',
           'rgba8': 'RGBA', 'rgba16': 'RGBA', 'bgra8': 'BGRA', 'bgra16': 'BGRA'}


def _cv_type(encoding):
    """(depth name, channels) of an encoding, as C++ getCvType; CvBridgeError if unknown."""
    if encoding in _NAMED:
        return _NAMED[encoding]
    m = _GENERIC.fullmatch(encoding)
    if m:
        return m.group(1), int(m.group(2) or 1)
    raise CvBridgeError('Unrecognized image encoding [%s]' % encoding)


def _is_color_format(encoding):
    return (encoding in _COLOR or encoding in _MONO or encoding.startswith('bayer_')
            or encoding in ('yuv422', 'yuv422_yuy2'))


def _bit_depth(encoding):
    return np.dtype(_DEPTH_TO_DTYPE[_cv_type(encoding)[0]]).itemsize * 8


def _cvt_code(src_family, dst_family):
    import cv2
    if src_family == dst_family:
        return None
    name = 'COLOR_%s2%s' % (src_family, dst_family)
    if not hasattr(cv2, name):
        return False
    return getattr(cv2, name)


def _convert_to(im, dst_dtype, scale=1.0):
    """cv::Mat::convertTo: scale, round half to even, saturate."""
    dst_dtype = np.dtype(dst_dtype)
    if scale == 1.0 and im.dtype == dst_dtype:
        return im.copy()
    if dst_dtype.kind == 'f':
        out = im.astype(np.float64) * scale if scale != 1.0 else im
        return np.asarray(out, dtype=dst_dtype)
    info = np.iinfo(dst_dtype)
    x = im.astype(np.float64) * scale
    x = np.nan_to_num(np.rint(x), nan=0.0, posinf=info.max, neginf=info.min)
    return np.clip(x, info.min, info.max).astype(dst_dtype)


def _cvt_color2(im, src, dst):
    """Encoding conversion as C++ cv_bridge::cvtColor (toCvCopyImpl + getConversionCode)."""
    import cv2
    if dst == src or dst == '':
        return im.copy()
    _cv_type(src)
    dst_depth, dst_channels = _cv_type(dst)
    src_channels = _cv_type(src)[1]
    src_color, dst_color = _is_color_format(src), _is_color_format(dst)
    same_channels = src_channels == dst_channels
    steps = []
    if not src_color:
        if dst_color:
            raise CvBridgeError('[%s] is not a color format. but [%s] is. The conversion does not make sense'
                                % (src, dst))
        if not same_channels:
            raise CvBridgeError('[%s] and [%s] do not have the same number of channel' % (src, dst))
        steps = ['depth']
    elif not dst_color:
        if not same_channels:
            raise CvBridgeError('[%s] is a color format but [%s] is not so they must have the same OpenCV type, '
                                'CV_8UC3, CV16UC1 ....' % (src, dst))
        steps = ['depth']
    else:
        sf, df = _FAMILY.get(src), _FAMILY.get(dst)
        code = _cvt_code(sf, df) if (sf and df) else False
        if code is False:
            raise CvBridgeError('Unsupported conversion from [%s] to [%s]' % (src, dst))
        if code is None:
            steps = ['depth']
        else:
            steps = [code]
            if _bit_depth(src) != _bit_depth(dst):
                steps.append('depth')
    out = im
    for step in steps:
        if step == 'depth':
            sd, dd = _bit_depth(src), _bit_depth(dst)
            if sd == 8 and dd == 16:
                scale = 65535.0 / 255.0
            elif sd == 16 and dd == 8:
                scale = 255.0 / 65535.0
            else:
                scale = 1.0
            out = _convert_to(out, _DEPTH_TO_DTYPE[dst_depth], scale)
        else:
            out = cv2.cvtColor(np.ascontiguousarray(out), step)
    return out


class CvBridge(object):
    """Converts between sensor_msgs/Image and numpy arrays (OpenCV images)."""

    def __init__(self):
        self.numpy_type_to_cvtype = dict(_DTYPE_TO_DEPTH)
        self.numpy_type_to_cvtype.update(_DEPTH_TO_DTYPE)

    def dtype_with_channels_to_cvtype2(self, dtype, n_channels):
        try:
            return '%sC%d' % (_DTYPE_TO_DEPTH[np.dtype(dtype).name], n_channels)
        except KeyError:
            raise CvBridgeError('Unsupported array type %s' % np.dtype(dtype).name) from None

    def encoding_to_dtype_with_channels(self, encoding):
        depth, channels = _cv_type(encoding)
        return _DEPTH_TO_DTYPE[depth], channels

    def imgmsg_to_cv2(self, img_msg, desired_encoding='passthrough'):
        """sensor_msgs/Image -> numpy array (H, W) or (H, W, C), with upstream's two quirks (see README).

        As upstream, the data is read as ``height`` consecutive rows of ``step // pixel size`` pixels,
        then cut to ``width``: row padding that is a multiple of the pixel size is dropped correctly, any
        other padding shifts the rows (silently). A byte order other than the host's is swapped with
        ``ndarray.newbyteorder``, which NumPy 2 no longer has (AttributeError there, for any encoding).
        """
        dtype, n_channels = self.encoding_to_dtype_with_channels(img_msg.encoding)
        dtype = np.dtype(dtype).newbyteorder('>' if img_msg.is_bigendian else '<')
        data = img_msg.data
        buf = np.asarray(data, dtype=np.uint8) if isinstance(data, list) else data
        height, width, step = int(img_msg.height), int(img_msg.width), int(img_msg.step)
        pixel = dtype.itemsize * n_channels
        nbytes = memoryview(buf).nbytes
        if step < width * pixel:
            raise CvBridgeError('Image is wrongly formed: step < width * byte_depth * num_channels  or  '
                                '%d != %d * %d * %d' % (step, width, dtype.itemsize, n_channels))
        if height * step != nbytes:
            raise CvBridgeError('Image is wrongly formed: height * step != size  or  %d * %d != %d'
                                % (height, step, nbytes))
        shape = (height, width) if n_channels == 1 else (height, width, n_channels)
        if height == 0 or width == 0:
            im = np.zeros(shape, dtype=dtype)
        else:
            row_pixels = step // pixel  # upstream: int(step / itemsize [/ channels])
            flat = np.frombuffer(buf, dtype=np.uint8, count=height * row_pixels * pixel)
            im = flat.view(dtype).reshape((height, row_pixels) + shape[2:])[:, :width]
            im = np.ascontiguousarray(im)
        if img_msg.is_bigendian == (sys.byteorder == 'little'):
            im = im.byteswap().newbyteorder()  # as upstream: ndarray.newbyteorder is gone in NumPy 2
        if desired_encoding == 'passthrough':
            return im
        return _cvt_color2(im, img_msg.encoding, desired_encoding)

    def cv2_to_imgmsg(self, cvim, encoding='passthrough', header=None):
        """numpy array -> sensor_msgs/Image (step = width * bytes per pixel, no padding)."""
        if not isinstance(cvim, (np.ndarray, np.generic)):
            raise TypeError('Your input type is not a numpy array')
        img_msg = sensor_msgs.msg.Image()
        img_msg.height = cvim.shape[0]
        img_msg.width = cvim.shape[1]
        if header is not None:
            img_msg.header = header
        n_channels = 1 if cvim.ndim < 3 else cvim.shape[2]
        cv_type = self.dtype_with_channels_to_cvtype2(cvim.dtype, n_channels)
        if encoding == 'passthrough':
            img_msg.encoding = cv_type
        else:
            img_msg.encoding = encoding
            depth, channels = _cv_type(encoding)
            if '%sC%d' % (depth, channels) != cv_type:
                raise CvBridgeError('encoding specified as %s, but image has incompatible type %s'
                                    % (encoding, cv_type))
        if cvim.dtype.byteorder == '>':
            img_msg.is_bigendian = True
        img_msg.data.frombytes(cvim.tobytes())
        img_msg.step = len(img_msg.data) // img_msg.height if img_msg.height else 0
        return img_msg
