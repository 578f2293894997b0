// The part of @xmldom/xmldom that Gatehouse uses (SAML responses and IdP metadata), typed here
// and mapped in tsconfig.json "paths". The package's own declarations start with
// `/// <reference lib="dom" />`, which would give every module of this Node program the browser's
// globals (document, window, DOM fetch types) without an error anywhere.

export interface XmlNode {
  readonly localName: string | null;
  readonly namespaceURI: string | null;
  readonly parentNode: XmlNode | null;
  readonly textContent: string | null;
}

export interface XmlElement extends XmlNode {
  getAttribute(name: string): string | null;
  getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<XmlElement>;
}

export interface XmlDocument extends XmlNode {
  readonly documentElement: XmlElement | null;
  getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<XmlElement>;
}

export interface DOMParserOptions {
  errorHandler?: {
    warning?: (message: string) => void;
    error?: (message: string) => void;
    fatalError?: (message: string) => void;
  };
}

export declare class DOMParser {
  constructor(options?: DOMParserOptions);
  parseFromString(source: string, mimeType: string): XmlDocument;
}
