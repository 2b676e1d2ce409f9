// Datasets and batching: CIFAR-10/100 (binary version), MNIST/Fashion-MNIST (IDX), image folders,
// explicit downloads, the seeded batch sampler, and image streams (data larger than memory).
export type { ImageDataset, ToTensorsOptions, DatasetTensors } from './dataset';
export {
  toTensors,
  checkDataset,
  checkClassNames,
  subset,
  CIFAR_MEAN,
  CIFAR_STD,
  MNIST_MEAN,
  MNIST_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
} from './dataset';
export { DataFormatError } from './errors';
export { readTar } from './tar';
export type { TarEntry } from './tar';
export { loadIdx, loadMnist, findFashionMnist, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, FASHION_MNIST_CLASSES, FASHION_MNIST_DIRS } from './idx';
export type { IdxArray, LoadMnistOptions, MnistKind } from './idx';
export { loadCifar10, loadCifar100 } from './cifar';
export type { LoadCifar10Options, LoadCifar100Options } from './cifar';
export { loadImageFolder, IMAGE_EXTENSIONS } from './image-folder';
export type { LoadImageFolderOptions } from './image-folder';
export { download, DOWNLOADS } from './download';
export type { DownloadName, DownloadOptions, DownloadRemote } from './download';
export { BatchSampler } from './sampler';
export type { BatchSamplerOptions, SamplerState, SampledBatch } from './sampler';
export { Rng } from './rng';
export { openImageStream, isImageStream, ImageStream, IMAGENET_MEAN, IMAGENET_STD } from './image-stream';
export type { ImageStreamOptions, StreamBatch, StreamBatchesOptions } from './image-stream';
export { jpegDecoder, DEFAULT_LIBJPEG } from './jpeg-decoder';
export type { JpegDecoderInfo } from './jpeg-decoder';
export { randomResizedCrop, cropPlan, centerPlan, DEFAULT_CROP_RANGES } from './crop';
export type { CropBox, CropRanges, ResizePlan } from './crop';
