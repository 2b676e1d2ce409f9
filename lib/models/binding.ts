import type { NativeModule, NativeTensor } from '../native-types';

/** A registry entry as native/models/registry.cc describes it. */
export interface NativeModelEntry {
  name: string;
  aliases: string[];
  family: string;
  dataset: 'cifar' | 'imagenet';
  inputSize: number;
  defaultClasses: number;
  featureShapes: [number, number, number][];
  preact: string;
  numParameters?: number;
}

export interface ModelsBinding {
  modelCreate(name: string, numClasses: number | null, inChannels: number | null): NativeModule;
  modelList(withCounts: boolean): NativeModelEntry[];
  modelDescribe(name: string): NativeModelEntry & { numParameters: number };
  modelForward(model: NativeModule, x: NativeTensor): Promise<NativeTensor>;
  modelForwardWithFeatures(model: NativeModule, x: NativeTensor, preact: boolean): Promise<NativeTensor[]>;
  modelSetChannelsLast(model: NativeModule, enable: boolean): void;
  modelInfo(model: NativeModule): { name: string; inChannels: number | null; hasPreact: boolean };
  torchScriptLoad(path: string, trustCode: boolean, device: string | null): NativeModule;
  /** `options`: a normalisation traced in front of the network ((x / scale - mean) / std per channel) and the JSON saved as the extra file reviewkd.json. */
  exportTorchScript(model: NativeModule, path: string, exampleInput: NativeTensor, options?: { mean?: number[]; std?: number[]; scale?: number; extraJson?: string }): void;
  torchScriptSaveFixture(path: string, inChannels: number, numClasses: number, logitsOnly?: boolean): void;
}
