// The strings of the phone screens and of alerts on devices (push.ts, phone.ts, sw.ts), in English and
// French. Kept apart from i18n.ts so the service worker can carry them without the whole console; the
// language is the console's (`lang`), or the browser's in the service worker.

const en = {
  back: "Back",
  backToList: "Back to conversations",
  backToChat: "Back to the conversation",
  visitorDetails: "Visitor details",
  mainNav: "Main",
  statusAndSession: "Status and session",
  notifications: "Notifications",
  notificationsHelp: "Alerts on this device, even when the console is closed.",
  alertNewConversation: "A new conversation in the queue of my sites",
  alertVisitorReply: "A visitor replies in a conversation assigned to me",
  alertTransfer: "A conversation is transferred to me",
  alertMention: "Mentions of me in notes",
  turnOn: "Turn on alerts on this device",
  turnOff: "Turn off alerts on this device",
  alertsOn: "Alerts are on for this device.",
  alertsOff: "This device gets no alerts.",
  otherDevices: "My other devices",
  turnOffDevice: "Turn off {label}",
  turnOffShort: "Turn off",
  noPush: "This browser cannot get alerts when the console is closed. On an iPhone, add Papote to the Home Screen first.",
  pushDisabled: "Alerts are turned off on this server.",
  permissionDenied: "Notifications are blocked for this site in the browser's settings.",
  subscribeFailed: "This browser could not subscribe to alerts: {message}",
  deviceUnknown: "Device",
  phone: "Phone",
  computer: "Computer",
  // What the service worker shows.
  pushNew: "New conversation",
  pushNewFrom: "New conversation from {name}",
  pushReply: "{name} replied",
  pushTransfer: "{by} transferred a conversation to you",
  pushMention: "{by} mentioned you",
  pushAgent: "An agent",
  pushVisitor: "A visitor",
  pushOn: "on {site}",
};

export type PhoneKey = keyof typeof en;

const fr: Record<PhoneKey, string> = {
  back: "Retour",
  backToList: "Retour aux conversations",
  backToChat: "Retour à la conversation",
  visitorDetails: "Fiche du visiteur",
  mainNav: "Navigation principale",
  statusAndSession: "Statut et session",
  notifications: "Notifications",
  notificationsHelp: "Des alertes sur cet appareil, même quand la console est fermée.",
  alertNewConversation: "Une nouvelle conversation dans la file de mes sites",
  alertVisitorReply: "Un visiteur répond dans une conversation qui m'est assignée",
  alertTransfer: "Une conversation m'est transférée",
  alertMention: "Mentions de moi dans les notes",
  turnOn: "Activer les alertes sur cet appareil",
  turnOff: "Désactiver les alertes sur cet appareil",
  alertsOn: "Les alertes sont activées sur cet appareil.",
  alertsOff: "Cet appareil ne reçoit pas d'alertes.",
  otherDevices: "Mes autres appareils",
  turnOffDevice: "Désactiver {label}",
  turnOffShort: "Désactiver",
  noPush: "Ce navigateur ne peut pas recevoir d'alertes quand la console est fermée. Sur iPhone, ajoutez d'abord Papote à l'écran d'accueil.",
  pushDisabled: "Les alertes sont désactivées sur ce serveur.",
  permissionDenied: "Les notifications sont bloquées pour ce site dans les réglages du navigateur.",
  subscribeFailed: "Ce navigateur n'a pas pu s'abonner aux alertes : {message}",
  deviceUnknown: "Appareil",
  phone: "Téléphone",
  computer: "Ordinateur",
  pushNew: "Nouvelle conversation",
  pushNewFrom: "Nouvelle conversation de {name}",
  pushReply: "{name} a répondu",
  pushTransfer: "{by} vous a transféré une conversation",
  pushMention: "{by} vous a mentionné",
  pushAgent: "Un agent",
  pushVisitor: "Un visiteur",
  pushOn: "sur {site}",
};

const TABLES: Record<string, Record<PhoneKey, string>> = { en, fr };

/** The text of `key` in `language` ("en", "fr"; English for any other), with `{var}`s filled. */
export function phoneText(language: string, key: PhoneKey, vars: Record<string, string | number> = {}): string {
  const table = TABLES[language.toLowerCase().startsWith("fr") ? "fr" : "en"];
  return table[key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}
