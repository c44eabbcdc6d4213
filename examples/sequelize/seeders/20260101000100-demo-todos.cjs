"use strict";

/** @type {import('sequelize-cli').Migration} */
module.exports = {
  async up(queryInterface) {
    const now = new Date();
    await queryInterface.bulkInsert("todos", [
      { title: "Sign in without a password", done: true, createdAt: now, updatedAt: now },
      { title: "Rotate nothing, ever", done: false, createdAt: now, updatedAt: now },
    ]);
  },

  async down(queryInterface) {
    await queryInterface.bulkDelete("todos", {});
  },
};
